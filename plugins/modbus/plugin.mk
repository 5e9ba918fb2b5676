# The Modbus driver: one source tree, two plugins (one per transport), each
# built with -DWG_PLUGIN_VARIANT set to its name.
PLUGIN_LIBS_modbus := $(shell pkg-config --libs libmodbus 2>/dev/null)
PLUGIN_VARIANTS_modbus := modbus-rtu modbus-tcp
