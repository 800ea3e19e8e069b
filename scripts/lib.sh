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
    printf '%s' "$want" | md5sum | cut -d' ' -f1 >> "$stamp"
  fi
}

# ensure_venv_at DIR REQUIREMENTS: a further project-local environment, for a tool whose
# pins cannot share .venv's; reinstalled only when REQUIREMENTS changes.
ensure_venv_at() {
  local dir=$1 req=$2 stamp
  stamp="$dir/.installed"
  if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir"
  fi
  local want
  want=$(md5sum < "$req" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || ! grep -qxF -- "$want" "$stamp"; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >> "$stamp"
  fi
}
