#!/bin/sh
# npm runs `prepare` after npm ci in a clone, before npm pack, and when a folder or a git URL
# is installed with `npm install -g`. A folder install brings only the dependencies, not the
# build tools (TypeScript): fetch those first, then build what the package ships.
set -e
# npm hands its own settings down in npm_config_*; the install and build here are local to
# this folder, and npm 11 refuses an inherited allow-scripts list in a folder's own install.
unset npm_config_global npm_config_prefix npm_config_allow_scripts NPM_CONFIG_ALLOW_SCRIPTS
if [ ! -x node_modules/.bin/tsc ]; then
  npm install --prefix "$PWD" --no-save --include=dev --ignore-scripts \
    --no-audit --no-fund --loglevel=error
fi
# Same as `npm run build:package`, without another npm in between.
node_modules/.bin/tsc -p tsconfig.build.json
node dist/scripts/assets.js
