#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need. Idempotent and quick when all are present.
#   pcscd + vsmartcard-vpcd   real PC/SC stack for the virtual My Number Card
#   libpcsclite-dev swig      to build pyscard from source
#   chromium                  headless browser tests (Playwright drives /usr/bin/chromium; no browser download)
#   coturn                    TURN relay tests and the cluster's relay (deploy/cluster --turn)
#   iproute2                  network namespaces for browser<->agent media tests
#   systemd                   systemd-analyze verify and systemd-sysusers check the units in deploy/systemd
#   haproxy                   the load balancer of the production-shaped cluster (deploy/cluster, its fault tests)
#   cups-daemon cups-client   a private cupsd per test module: the back office's certificate printer queue (lpadmin,
#   cups-core-drivers ...     cupsdisable; gziptoany passes the PDF through), ipptool (cups-ipp-utils) to set
#                             printer-state-reasons (paper out)
#   prometheus                promtool checks deploy/prometheus/alerts.yml and the Grafana dashboard's queries
#                             (the server itself is not started)
#   nats-server               the NATS signaling bus's tests start their own server on a free port
#   poppler-utils poppler-data  pdftotext reads the certificates' text in tests (CJK CMaps from poppler-data)
#   tesseract-ocr tesseract-ocr-eng  OCR of a passport's MRZ and a residence card's number at the counter: the
#                             eng model tesserocr loads (its wheel bundles the library; the CLI is for diagnosis)
set -euo pipefail
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
PKGS=(pcscd vsmartcard-vpcd libpcsclite-dev swig chromium coturn iproute2 fonts-noto-cjk systemd prometheus haproxy
      nats-server poppler-utils poppler-data cups-daemon cups-core-drivers cups-client cups-ipp-utils
      tesseract-ocr tesseract-ocr-eng
      opensc)  # opensc: tests read the renewed certificate with pkcs15-tool (docs/card-admin.md §Applet)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ $quiet = 1 ] || echo "[system-deps] all present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[system-deps] missing (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "[system-deps] installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Only promtool is wanted from the prometheus package: do not leave a Prometheus server running on a developer
# machine (in a container without systemd nothing was started).
if printf '%s\n' "${missing[@]}" | grep -qx prometheus && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
# The tests start their own cupsd on a free port: no system print server is wanted on a developer machine.
if printf '%s\n' "${missing[@]}" | grep -qx cups-daemon && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now cups.service cups.socket cups.path >/dev/null 2>&1 || true
fi
