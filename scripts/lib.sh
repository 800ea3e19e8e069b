# Shared by scripts/demo and scripts/test: installs the project's Python tools (the AWS
# emulator, cfn-lint) into a project-local virtualenv, from tests/requirements.txt only.
ensure_venv() {
  local req=tests/requirements.txt stamp=.venv/.installed
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv (project-local Python environment)..."
    python3 -m venv .venv
  fi
  local want
  want=$(cat "$req" tests/emulator/requirements.txt)
  if [ ! -f "$stamp" ] || [ "$want" != "$(cat "$stamp")" ]; then
    echo "Installing the AWS emulator and test tools into .venv..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
    printf '%s' "$want" > "$stamp"
  fi
}
