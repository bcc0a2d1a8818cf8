# What building idbridge needs from Debian's packages. Source this file, then:
# install_build_deps (installs whatever is missing), or apt_install PACKAGE....

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# A C toolchain, and for samael (SAML): libxml2 and libxmlsec1 to link, libclang for the
# bindings its build script generates.
install_build_deps() {
  local missing=()
  command -v cc >/dev/null || missing+=(build-essential)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  for package in libclang-dev libxml2-dev libxmlsec1-dev libssl-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing from Debian's packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# For the browser suite (tests/it/browser): Debian's Chromium and ChromeDriver, and fonts so that
# pages and screenshots render as people see them.
install_browser_deps() {
  local missing=()
  for package in chromium chromium-driver fonts-liberation fonts-dejavu-core; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing from Debian's packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# For tests that read what idbridge makes with an implementation of their own: pysaml2 (which
# shells out to Debian's xmlsec1) is the SAML service provider and IdP, PyJWT decodes the product
# tokens. They come from PyPI at the versions tests/python-requirements.txt pins, into a virtual
# environment of Debian's python3 at target/test-python, made again only when that file changes;
# the tests run its python (IDBRIDGE_TEST_PYTHON, or that path).
install_test_tools() {
  local missing=()
  for package in python3 python3-venv xmlsec1 curl jq; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing from Debian's packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  local root venv requirements
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  venv="$root/target/test-python"
  requirements="$root/tests/python-requirements.txt"
  if ! cmp -s "$requirements" "$venv/requirements.txt"; then
    echo "==> installing the tests' Python packages from PyPI into $venv"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --no-deps --require-virtualenv -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
  fi
}
