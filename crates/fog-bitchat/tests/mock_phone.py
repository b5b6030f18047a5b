#!/usr/bin/python3
"""A BitChat phone as python-dbusmock's BlueZ shows it to the laptop: a device advertising
BitChat's service, with its one characteristic (write without response, notify). Used by
ble_mocked_bluez.rs on a private bus (DBUS_SYSTEM_BUS_ADDRESS).

  mock_phone.py adapter         add the laptop's adapter, able to serve GATT and advertise
  mock_phone.py advertised      the service UUIDs the laptop advertises
  mock_phone.py device          add the phone (its GATT service and characteristic)
  mock_phone.py notify HEX      the phone sends a frame (a notification)
  mock_phone.py writes          the frames the laptop wrote, one hex line each
  mock_phone.py central-write HEX   the phone, as central, writes a frame to the laptop's server
  mock_phone.py central-listen      the phone subscribes to the laptop's server and prints the
                                    first notified frame (within 10 s)
"""
import sys

import dbus
import dbus.mainloop.glib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

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


ADAPTER = "/org/bluez/hci0"
PHONE_AS_CENTRAL = ADAPTER + "/dev_11_22_33_44_55_66"


def adapter():
    dbus.Interface(bus.get_object("org.bluez", "/org/bluez"), "org.bluez.Mock").AddAdapter("hci0", "fog-test")
    # What BlueZ offers a GATT server; the mock records the calls.
    mock(ADAPTER).AddMethods("org.bluez.GattManager1", [
        ("RegisterApplication", "oa{sv}", "", ""),
        ("UnregisterApplication", "o", "", ""),
    ])
    mock(ADAPTER).AddMethods("org.bluez.LEAdvertisingManager1", [
        ("RegisterAdvertisement", "oa{sv}", "", ""),
        ("UnregisterAdvertisement", "o", "", ""),
    ])


def registered(method, interface):
    """(bus name, object path) of what the laptop registered with `method` (it serves `interface`)."""
    paths = [str(args[0]) for _, m, args in mock(ADAPTER).GetCalls() if m == method]
    if not paths:
        raise SystemExit(f"nothing registered with {method} yet")
    names = dbus.Interface(bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                           "org.freedesktop.DBus").ListNames()
    for name in (n for n in names if n.startswith(":")):
        try:
            xml = bus.get_object(name, paths[-1], introspect=False).Introspect(
                dbus_interface="org.freedesktop.DBus.Introspectable", timeout=2)
        except dbus.exceptions.DBusException:
            continue
        if f"<interface name=\"{interface}\"" in xml:
            return name, paths[-1]
    raise SystemExit(f"no bus name serves {paths[-1]}")


def advertised():
    name, path = registered("RegisterAdvertisement", "org.bluez.LEAdvertisement1")
    props = bus.get_object(name, path, introspect=False).GetAll("org.bluez.LEAdvertisement1",
                                              dbus_interface="org.freedesktop.DBus.Properties")
    print(" ".join(str(u).lower() for u in props.get("ServiceUUIDs", [])))
    print("name" if "LocalName" in props else "no name")


def server_characteristic():
    name, path = registered("RegisterApplication", "org.freedesktop.DBus.ObjectManager")
    objects = bus.get_object(name, path, introspect=False).GetManagedObjects(dbus_interface="org.freedesktop.DBus.ObjectManager")
    for object_path, interfaces in objects.items():
        if str(interfaces.get(CHAR_IFACE, {}).get("UUID", "")).lower() == CHARACTERISTIC_UUID:
            return name, object_path
    raise SystemExit("the laptop's GATT application has no BitChat characteristic")


def central_write(frame_hex):
    name, path = server_characteristic()
    bus.get_object(name, path, introspect=False).WriteValue(
        dbus.Array(bytes.fromhex(frame_hex), signature="y"),
        dbus.Dictionary({"device": dbus.ObjectPath(PHONE_AS_CENTRAL), "mtu": dbus.UInt16(247),
                         "type": dbus.String("command")}, signature="sv"),
        dbus_interface=CHAR_IFACE, signature="aya{sv}")


def central_listen():
    from gi.repository import GLib
    name, path = server_characteristic()
    loop = GLib.MainLoop()

    def changed(interface, props, _invalidated):
        if interface == CHAR_IFACE and "Value" in props:
            print(bytes(props["Value"]).hex(), flush=True)
            loop.quit()

    bus.add_signal_receiver(changed, "PropertiesChanged", "org.freedesktop.DBus.Properties", name, path)
    bus.get_object(name, path, introspect=False).StartNotify(dbus_interface=CHAR_IFACE)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()


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
    {
        "adapter": adapter,
        "advertised": advertised,
        "device": device,
        "notify": lambda: notify(sys.argv[2]),
        "writes": writes,
        "central-write": lambda: central_write(sys.argv[2]),
        "central-listen": central_listen,
    }[sys.argv[1]]()
