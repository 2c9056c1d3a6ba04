#!/bin/sh
# npm runs `prepare` after npm ci in a clone, before npm pack, and when a folder or a git URL
# is installed with `npm install -g`. A folder install brings only the dependencies, not the
# build tools (TypeScript): fetch those first, then build what the package ships.
set -e
# A git URL: npm clones it into its cache and runs `npm install` there before packing it, and
# that install inherits the outer command's settings (npm_config_global=true), so under
# `npm install -g` it links the temporary clone into the global prefix in place of the folder
# the real install is about to fill; the real install then extracts through that link into
# the clone, which npm deletes (npm/cli#4148, #6984). Put the empty folder back.
if [ -n "${_PACOTE_NO_PREPARE_:-}" ] && [ "${npm_config_global:-}" = true ]; then
  installed="${npm_config_global_prefix:-}/lib/node_modules/securestream"
  if [ -L "$installed" ] && [ "$(readlink -f "$installed")" = "$(pwd -P)" ]; then
    rm "$installed"
    mkdir "$installed"
  fi
fi
# npm hands its own settings down in npm_config_*; the install and build here are local to
# this folder, and npm 11 refuses an inherited allow-scripts list in a folder's own install.
unset npm_config_global npm_config_prefix npm_config_allow_scripts NPM_CONFIG_ALLOW_SCRIPTS
if [ ! -x node_modules/.bin/tsc ]; then
  npm install --prefix "$PWD" --no-save --include=dev --ignore-scripts \
    --no-audit --no-fund --loglevel=error
fi
# `npm run build:package`, without another npm in between.
exec sh scripts/build-package.sh
