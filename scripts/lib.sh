# Shared by the scripts: installs the project's Python tools into a project-local
# virtualenv (.venv), from the named requirements files only, and again only when
# those files change.
#   ensure_venv                   the emulator, cfn-lint and the policy tools (tests/requirements.txt)
#   ensure_venv scripts/package-requirements.txt   ... plus cargo-lambda, for the zip
ensure_venv() {
  local stamp=.venv/.installed
  local files=(tests/requirements.txt tests/emulator/requirements.txt tests/policies/requirements.txt "$@")
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv (project-local Python environment)..."
    python3 -m venv .venv
  fi
  local want
  want=$(cat "${files[@]}")
  if [ ! -f "$stamp" ] || ! grep -qxF -- "$(printf '%s' "$want" | md5sum | cut -d' ' -f1)" "$stamp"; then
    echo "Installing the project's Python tools into .venv..."
    local args=()
    for f in tests/requirements.txt "$@"; do args+=(-r "$f"); done
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${args[@]}"
    printf '%s\n' "$want" | md5sum | cut -d' ' -f1 >> "$stamp"
  fi
}
