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

# For tests that read what idbridge makes with an implementation of their own, run by
# /usr/bin/python3: PyJWT (python3-jwt) decodes the product tokens; pysaml2 (python3-pysaml2, with
# the xmlsec1 binary) is the SAML IdP of the single-logout tests.
install_test_tools() {
  local missing=()
  for package in python3 python3-jwt python3-pysaml2 xmlsec1 curl jq; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing from Debian's packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}
