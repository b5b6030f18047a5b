#!/bin/bash
# Inside the guest (see run): D-Bus, bluetoothd and two emulated LE controllers, then two Fog
# nodes, "alice" on hci0 (central) and "bob" on hci1 (peripheral). They must
# hear each other's announces, and a public message and an end-to-end encrypted DM must arrive,
# the DM with its delivery receipt.
set -u
fog=$1
say() { echo "FOG-VM: $*"; }
fail() {
  say "FAIL: $*"
  echo "--- BlueZ objects"; busctl --system tree org.bluez 2>&1 | head -40
  for f in /run/btvirt.log /run/bluetoothd.log /run/alice/output.log /run/bob/output.log; do
    echo "--- $f"; tail -n 25 "$f" 2>/dev/null
  done
  exit 1
}
wait_for() { # seconds, description, command…
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$what within $seconds s"
}

mkdir -p /run/dbus
dbus-daemon --system --fork || fail "dbus-daemon"
/usr/sbin/bluetoothd -n -E >/run/bluetoothd.log 2>&1 &
# Real BlueZ, no controller yet: the node must say so, not fail.
no_controller() { "$fog" bitchat radio 2>&1 | grep -q "no Bluetooth adapter found"; }
wait_for 30 "BlueZ without a controller reported as such" no_controller
say "before the controllers: $("$fog" bitchat radio 2>&1)"
btvirt -L -l2 >/run/btvirt.log 2>&1 &
wait_for 30 "two emulated controllers" test -e /sys/class/bluetooth/hci1
wait_for 30 "BlueZ sees a controller" "$fog" bitchat radio
say "controllers: $(ls /sys/class/bluetooth | tr '\n' ' ')"

# Alice is a btleplug central only, bob a bluer peripheral only: one link, as the issue asks
# (two laptops both scanning and advertising at each other make this emulator's bluetoothd trip).
for who in alice:hci0:7801:central bob:hci1:7802:peripheral; do
  IFS=: read -r name hci port roles <<<"$who"
  mkdir -p /run/$name
  cat >/run/$name/fog.toml <<TOML
data_dir = "/run/$name"
[api]
addr = "127.0.0.1:$port"
[mesh]
enabled = false
[idle]
enabled = false
[bitchat]
nickname = "$name"
adapter = "$hci"
roles = "$roles"
TOML
  FOG_LOG=info "$fog" node --config /run/$name/fog.toml >/run/$name/output.log 2>&1 &
done
a="--config /run/alice/fog.toml"
b="--config /run/bob/fog.toml"
wait_for 120 "the nodes' APIs" "$fog" bitchat peers $b
say "alice: $("$fog" bitchat peers $a | head -1)"
hears() { "$fog" bitchat peers $1 | grep -q " $2 .*direct"; }
wait_for 60 "alice hears bob" hears "$a" bob
wait_for 60 "bob hears alice" hears "$b" alice
say "announces heard both ways"
bob_id=$("$fog" bitchat peers $a | awk '/ bob / {print $1}')

"$fog" bitchat send $a "hello over emulated BLE" || fail "public send"
wait_for 60 "bob gets the public message" sh -c "'$fog' bitchat log '#mesh' $b | grep -q 'hello over emulated BLE'"
say "public message delivered"
"$fog" bitchat send $a --to "$bob_id" "a secret over emulated BLE" || fail "private send"
wait_for 60 "bob gets the DM" sh -c "'$fog' bitchat log $b | grep -q 'a secret over emulated BLE'"
wait_for 60 "alice gets the delivery receipt" sh -c "'$fog' bitchat log $a | grep -q 'a secret over emulated BLE \[delivered\]'"
say "private message delivered, receipt back"
say "PASS"
