// Runs the real microgateway-core (as notes/edgemicro.md §8A) on loopback for the tests.
// usage: node gateway.js '{"port":N,"logDir":"…","requestTimeout":1,"keepAliveTimeout":5000,
//                          "proxies":[{"base":"/idle","url":"http://127.0.0.1:1234"}]}'
// Optional: "core": an aliased core ("mgc-3.3.1", see package.json), "toConsole": true (log to
// stdout as the docker image does), "level" (default info), "announce": true (print the
// versions at start as the edgemicro CLI does, in its console format).
// Prints "listening PORT" once it accepts connections; exits on SIGTERM.
const cfg = JSON.parse(process.argv[2]);
const config = require('./config')(cfg); // before the core loads: it sets the org/env it logs
const gateway = require(cfg.core || 'microgateway-core')(config);
// One no-op plugin: with zero plugins microgateway-core crashes on some error paths (notes §7).
gateway.addPlugin('noop', () => ({ onrequest: (req, res, next) => next() }));
gateway.start((err) => {
  if (err) { console.error(err); process.exit(1); }
  if (cfg.announce) {
    const at = () => new Date().toISOString() + ' [' + process.pid + '] [microgateway edgemicro] ';
    console.log(at() + 'current nodejs version is ' + process.version);
    console.log(at() + 'current edgemicro version is ' + require((cfg.core || 'microgateway-core') + '/package.json').version);
  }
  console.log('listening ' + cfg.port);
});
process.on('SIGTERM', () => process.exit(0));
