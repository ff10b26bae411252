# Sourced by the service scripts whose peer comes from npm.
#
# npm_ci_into SRC DEST: `npm ci` SRC's package.json and package-lock.json
# into DEST (under .test-services, never the source tree), again only when
# the lockfile changed or node_modules is missing. Needs `log`.
npm_ci_into() {
    local src="$1" dest="$2"
    command -v node >/dev/null || { log "node is not installed (Node >= 20 needed)"; exit 1; }
    mkdir -p "$dest"
    if ! cmp -s "$src/package-lock.json" "$dest/package-lock.json" || [[ ! -d "$dest/node_modules" ]]; then
        log "npm ci in $dest"
        cp "$src/package.json" "$src/package-lock.json" "$dest/"
        (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
