#!/bin/sh
# Alertmanager entrypoint for deploy/compose.yaml: `entrypoint.sh [alertmanager flags...]`.
#
# Alertmanager 0.25 reads the Slack URL and the SMTP password from files (*_file options) but
# has no file option for the Telegram bot token or the webhook URL (both came in 0.26). So this
# renders a private copy of alertmanager.yml with those two values taken from the secrets
# directory, then execs Alertmanager on the copy. The copy lives in the container's data
# volume, never in the repository. After editing alertmanager.yml or a secret, restart (a
# /-/reload would re-read the old copy):  docker compose restart alertmanager
set -eu

SRC_DIR=${LIQMON_AM_SRC_DIR:-/etc/alertmanager}
SECRETS=${SRC_DIR}/secrets
OUT_DIR=${LIQMON_AM_OUT_DIR:-/alertmanager/rendered}
PLACEHOLDER_URL=http://liqmon-webhook:9095/alerts

# Print a secret file's first line, escaped for the replacement side of sed s|...|...|.
secret_for_sed() {
  head -n 1 "$1" | tr -d '\r\n' | sed -e 's/[\\|&]/\\&/g'
}

umask 077
mkdir -p "$OUT_DIR"
rm -rf "$OUT_DIR/templates"
cp -R "$SRC_DIR/templates" "$OUT_DIR/templates"
cp "$SRC_DIR/alertmanager.yml" "$OUT_DIR/alertmanager.yml.tmp"

if [ -s "$SECRETS/telegram_bot_token" ]; then
  token=$(secret_for_sed "$SECRETS/telegram_bot_token")
  sed -i -e "s|@@TELEGRAM_BOT_TOKEN@@|$token|" "$OUT_DIR/alertmanager.yml.tmp"
else
  echo "entrypoint: no $SECRETS/telegram_bot_token: Telegram notifications will fail" >&2
fi
if [ -s "$SECRETS/webhook_url" ]; then
  url=$(secret_for_sed "$SECRETS/webhook_url")
  sed -i -e "s|url: $PLACEHOLDER_URL|url: $url|" "$OUT_DIR/alertmanager.yml.tmp"
fi
mv "$OUT_DIR/alertmanager.yml.tmp" "$OUT_DIR/alertmanager.yml"

exec "${ALERTMANAGER_BIN:-/bin/alertmanager}" --config.file="$OUT_DIR/alertmanager.yml" "$@"
