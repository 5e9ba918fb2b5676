/* A shared object that is not a wardgate driver: it exports no descriptor. */
__attribute__((visibility("default"))) int not_a_plugin = 1;
