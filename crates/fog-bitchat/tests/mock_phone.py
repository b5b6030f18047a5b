#!/usr/bin/python3
"""A BitChat phone as python-dbusmock's BlueZ shows it to the laptop: a device advertising
BitChat's service, with its one characteristic (write without response, notify). Used by
ble_mocked_bluez.rs on a private bus (DBUS_SYSTEM_BUS_ADDRESS).

  mock_phone.py device          add the phone (its GATT service and characteristic)
  mock_phone.py notify HEX      the phone sends a frame (a notification)
  mock_phone.py writes          the frames the laptop wrote, one hex line each
"""
import sys

import dbus

SERVICE_UUID = "f47b5e2d-4a9e-4c5a-9b3f-8e1d2c3a4b5c"
CHARACTERISTIC_UUID = "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d"
DEVICE = "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"
SERVICE = DEVICE + "/service0010"
CHARACTERISTIC = SERVICE + "/char0011"
MOCK = "org.freedesktop.DBus.Mock"
CHAR_IFACE = "org.bluez.GattCharacteristic1"

bus = dbus.SystemBus()


def mock(path):
    return dbus.Interface(bus.get_object("org.bluez", path), MOCK)


def device():
    dbus.Interface(bus.get_object("org.bluez", "/org/bluez"), "org.bluez.Mock").AddDevice(
        "hci0", "AA:BB:CC:DD:EE:01", "phone")
    # bluez-async reads a service's children by introspection; a method on it keeps the
    # introspection data in the shape it expects.
    mock(DEVICE).AddObject(SERVICE, "org.bluez.GattService1", {
        "UUID": dbus.String(SERVICE_UUID),
        "Primary": dbus.Boolean(True),
        "Device": dbus.ObjectPath(DEVICE),
    }, [("Placeholder", "", "", "")])
    mock(SERVICE).AddObject(CHARACTERISTIC, CHAR_IFACE, {
        "UUID": dbus.String(CHARACTERISTIC_UUID),
        "Service": dbus.ObjectPath(SERVICE),
        "Value": dbus.Array([], signature="y"),
        "Notifying": dbus.Boolean(False),
        "Flags": dbus.Array(["read", "write", "write-without-response", "notify"], signature="s"),
        "MTU": dbus.UInt16(517),
    }, [
        ("StartNotify", "", "", ""),
        ("StopNotify", "", "", ""),
        ("WriteValue", "aya{sv}", "", ""),
        ("ReadValue", "a{sv}", "ay", "ret = dbus.Array([], signature='y')"),
    ])
    mock(DEVICE).UpdateProperties("org.bluez.Device1", {
        "UUIDs": dbus.Array([SERVICE_UUID], signature="s"),
        "ServicesResolved": dbus.Boolean(True),
        "RSSI": dbus.Int16(-61),
    })


def notify(frame_hex):
    mock(CHARACTERISTIC).EmitSignal("org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as", [
        CHAR_IFACE,
        {"Value": dbus.Array(bytes.fromhex(frame_hex), signature="y", variant_level=1)},
        dbus.Array([], signature="s"),
    ])


def writes():
    for _, method, args in mock(CHARACTERISTIC).GetCalls():
        if method == "WriteValue":
            print(bytes(args[0]).hex())


if __name__ == "__main__":
    {"device": device, "notify": lambda: notify(sys.argv[2]), "writes": writes}[sys.argv[1]]()
