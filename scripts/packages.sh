# Sourced by scripts/setup.sh and scripts/test.sh: what seke needs from Debian's archive, and one
# install of whatever is missing (a single `apt-get update`, the slow part of a fresh machine).

# To build and run seke.
SEKE_BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config git ca-certificates
                     libboost1.81-dev libboost-test1.81-dev libboost-program-options1.81-dev
                     libopencv-dev opencv-data libjpeg-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev
                     libpq-dev libssl-dev libyaml-cpp-dev)

# Installs the packages given that are not installed yet, plus Node.js when there is no npm (it
# fetches the models and test assets; a machine with a Node.js of its own keeps it). PostgreSQL
# comes without its default cluster: the tests start throwaway ones of their own.
install_missing_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]} — run as root or install them with apt-get" >&2
    return 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -f /etc/postgresql-common/createcluster.conf ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
