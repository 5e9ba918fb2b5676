PLUGIN_LIBS_gpio := -lgpiod
