// Replaced by the native-addon build step (see native/). Until then, do nothing.
process.exit(0);
