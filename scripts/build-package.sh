#!/bin/sh
# What the package ships (`npm run build:package`, and scripts/prepare.sh for npm pack and
# installs from a folder or a git URL): src compiled, its esbuild bundle, the man page and the
# completions. One place, so that the two cannot drift apart.
set -e
node_modules/.bin/tsc -p tsconfig.build.json
node dist/scripts/bundle.js
node dist/scripts/assets.js
