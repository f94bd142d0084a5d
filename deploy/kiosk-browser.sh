#!/bin/sh
# Start Chromium full-screen on the kiosk's own pages, locked down for a public touchscreen.
# Waits (bounded) for the kiosk server, then replaces itself with the browser.
set -eu
url=${KIOSK_URL:-http://127.0.0.1:8080/}
browser=${KIOSK_BROWSER:-}
if [ -z "$browser" ]; then
  for candidate in /usr/bin/chromium /usr/lib/chromium/chromium /usr/bin/chromium-browser; do
    [ -x "$candidate" ] && browser=$candidate && break
  done
fi
[ -n "$browser" ] || { echo "kiosk-browser: Chromium not found (apt-get install chromium)" >&2; exit 1; }
profile=${KIOSK_BROWSER_PROFILE:-${XDG_RUNTIME_DIR:-/tmp}/kiosk-browser}
rm -rf "$profile"  # a fresh profile each start: nothing of the last visitor survives a restart

tries=0
until python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -ge 60 ] && { echo "kiosk-browser: $url does not answer; starting anyway" >&2; break; }
  sleep 1
done

exec "$browser" \
  --kiosk "$url" \
  --user-data-dir="$profile" \
  --no-first-run \
  --noerrdialogs \
  --disable-session-crashed-bubble \
  --disable-infobars \
  --disable-pinch \
  --overscroll-history-navigation=0 \
  --disable-features=OverscrollHistoryNavigation,TouchpadOverscrollHistoryNavigation,Translate,TranslateUI,MediaRouter \
  --disable-background-networking \
  --disable-component-update \
  --disable-sync \
  --disable-default-apps \
  --disable-extensions \
  --disable-translate \
  --disable-client-side-phishing-detection \
  --no-default-browser-check \
  --metrics-recording-only \
  --password-store=basic \
  --check-for-update-interval=31536000 \
  --autoplay-policy=no-user-gesture-required \
  --touch-events=enabled
