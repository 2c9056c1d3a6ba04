#!/bin/sh
# npm runs `prepare` after npm ci in a clone, before npm pack, and when a folder or a git URL
# is installed with `npm install -g`. A folder install brings only the dependencies, not the
# build tools (TypeScript): fetch those first, then build what the package ships.
set -e
if [ ! -x node_modules/.bin/tsc ]; then
  # npm hands its own settings down (npm_config_global, _prefix): this install is local.
  npm install --global=false --prefix "$PWD" --no-save --include=dev --ignore-scripts \
    --no-audit --no-fund --loglevel=error
fi
npm run build:package --silent
