// The `debug` package as the bundle sees it (bin/fleetstream.js points `debug` here). mqtt.js and
// mqtt-packet call their debug loggers several times per packet, and the real `debug` collects
// each call's arguments into an array before it finds logging off: ~6 % of all bytes allocated
// at 15k readings/s. Unless DEBUG is set, every logger here is a function that does nothing.
"use strict";
if (process.env.DEBUG) {
  module.exports = require("debug/src/index.js");
} else {
  const off = () => {};
  off.enabled = false;
  off.namespace = "";
  off.log = off;
  off.destroy = off;
  off.extend = () => off;
  const createDebug = () => off;
  createDebug.enable = off;
  createDebug.disable = () => "";
  createDebug.enabled = () => false;
  createDebug.default = createDebug;
  module.exports = createDebug;
}
