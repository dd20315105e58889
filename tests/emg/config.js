// The EMG config both test harnesses give the core (gateway.js in-process, gateway2.js as a
// 2.x cluster): built from the JSON argument the tests pass, fresh on every call (the core
// writes into it).
module.exports = function config(cfg) {
  process.env.CurrentOrgName = 'o';
  process.env.CurrentEnvironmentName = 'e';
  return {
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
  };
};
