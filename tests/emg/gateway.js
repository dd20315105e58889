// Runs the real microgateway-core (as notes/edgemicro.md §8A) on loopback for the tests.
// usage: node gateway.js '{"port":N,"logDir":"…","requestTimeout":1,"keepAliveTimeout":5000,
//                          "proxies":[{"base":"/idle","url":"http://127.0.0.1:1234"}]}'
// Optional: "core": an aliased core ("mgc-3.3.1", see package.json), "toConsole": true (log to
// stdout as the docker image does), "level" (default info).
// Prints "listening PORT" once it accepts connections; exits on SIGTERM.
const cfg = JSON.parse(process.argv[2]);
process.env.CurrentOrgName = 'o';
process.env.CurrentEnvironmentName = 'e';
const gateway = require(cfg.core || 'microgateway-core')({
  edgemicro: {
    port: cfg.port, address: '127.0.0.1', max_connections: 1000,
    keep_alive_timeout: cfg.keepAliveTimeout, request_timeout: cfg.requestTimeout,
    logging: { level: cfg.level || 'info', dir: cfg.logDir, to_console: !!cfg.toConsole, stats_log_interval: 60, rotate_interval: 24 },
    plugins: { sequence: ['noop'] },
  },
  headers: { 'x-forwarded-for': true, 'x-forwarded-host': true, 'x-request-id': true, 'x-response-time': true, via: true },
  proxies: cfg.proxies.map((p, i) => ({
    max_connections: 1000, name: 'edgemicro_t' + i, proxy_name: 'default', revision: '1',
    base_path: p.base, target_name: 'default', url: p.url,
  })),
});
// One no-op plugin: with zero plugins microgateway-core crashes on some error paths (notes §7).
gateway.addPlugin('noop', () => ({ onrequest: (req, res, next) => next() }));
gateway.start((err) => {
  if (err) { console.error(err); process.exit(1); }
  console.log('listening ' + cfg.port);
});
process.on('SIGTERM', () => process.exit(0));
