#!/usr/bin/env bash
# Installs the Debian packages the embedded stack uses: redis-server and mariadb-server (started
# only when none is already answering), librdkafka-dev and gcc (the Kafka mock launcher), and
# chromium (the browser tests drive it with playwright-core).
# `npm start` and `npm test` install them on demand too; this does it up front.
set -euo pipefail
pkgs=()
command -v redis-server >/dev/null || pkgs+=(redis-server)
[ -x /usr/sbin/mariadbd ] || pkgs+=(mariadb-server)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || pkgs+=(librdkafka-dev)
command -v gcc >/dev/null || pkgs+=(gcc)
[ -x /usr/bin/chromium ] || pkgs+=(chromium)
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${pkgs[*]}" >&2
  echo "install them as root:  apt-get update && apt-get install -y ${pkgs[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
