// Runs microgateway-core 2.x as edgemicro 2.x does: a cluster master that owns the log (file or
// console) and one worker that serves, sending each serialized record to the master. In-process,
// core 2.5.17 writes nothing: its logger's own writeLogRecord expects {msg} but gets a string.
// usage: node gateway2.js '{"core":"mgc-2.5.17", …same keys as gateway.js}'
// Prints "listening PORT" (from the master) once the worker accepts connections.
const cluster = require('cluster');
const cfg = JSON.parse(process.argv[2]);
const core = cfg.core;
const config = () => require('./config')(cfg);
if (cluster.isMaster) {
  const c = config();
  c.uid = 'master';
  const logger = require(core + '/lib/logging').init(c);
  const worker = cluster.fork();
  worker.on('message', (m) => {
    if (m === 'listening') console.log('listening ' + cfg.port);
    else if (m && m.msg) logger.writeLogRecord(m);
  });
  worker.on('exit', (code) => process.exit(code || 1));
  process.on('SIGTERM', () => { worker.kill(); process.exit(0); });
} else {
  const c = config(); // before the core loads: it sets the org/env it logs
  const gateway = require(core)(c);
  gateway.addPlugin('noop', () => ({ onrequest: (req, res, next) => next() }));
  gateway.start((err) => {
    if (err) { console.error(err); process.exit(1); }
    process.send('listening');
  });
}
