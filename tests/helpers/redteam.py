#!/usr/bin/env python3
"""Plants secrets in shapes written apart from the rules (issue #16), for tests/cli/redteam.rs.

usage: redteam.py OUT_DIR SEED

Writes OUT_DIR/home/.edgemicro (configs), OUT_DIR/logs (logs), OUT_DIR/env.json (environment
for the collect run) and OUT_DIR/oracle.json: {"planted": [[class, value], ...],
"protected": [[class, value], ...]}. Every template of every class is instantiated with fresh
values from several alphabets (base62, hex, base64 with + and /, base64url, JWT), so one
template proves a shape rather than a value. The templates were written from what Node,
docker, journald, js-yaml and the EMG plugins print, not from the redaction rules.
"""
import base64
import json
import os
import random
import sys
import urllib.parse

OUT, SEED = sys.argv[1], int(sys.argv[2])
rnd = random.Random(SEED)
planted, protected = [], []
files = {}  # relative path -> list of text pieces
env = {}

TS = "2026-11-24T03:23:43.509Z"
B62 = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def plant(cls, value):
    planted.append([cls, value])
    return value


def keep(cls, value):
    protected.append([cls, value])
    return value


def fresh(cls, kind=None):
    """A unique secret in one of several alphabets."""
    kind = kind or rnd.choice(["b62", "hex", "b64", "b64url", "b62"])
    n = len(planted)
    if kind == "b62":
        v = "Z%03d" % n + "".join(rnd.choice(B62) for _ in range(24))
    elif kind == "hex":
        v = "%03x" % n + "".join(rnd.choice("0123456789abcdef") for _ in range(37))
    elif kind == "b64":
        raw = base64.b64encode(n.to_bytes(2, "big") + rnd.randbytes(28)).decode()
        v = raw if ("+" in raw or "/" in raw) else raw[:-4] + "a+b/"
    elif kind == "b64url":
        v = base64.urlsafe_b64encode(n.to_bytes(2, "big") + rnd.randbytes(31)).decode().rstrip("=")
    elif kind == "jwt":
        head = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').decode().rstrip("=")
        body = base64.urlsafe_b64encode(
            json.dumps({"sub": "app-%d" % n, "jti": rnd.randbytes(9).hex()}).encode()
        ).decode().rstrip("=")
        sig = base64.urlsafe_b64encode(rnd.randbytes(64)).decode().rstrip("=")
        plant(cls, body)
        plant(cls, sig)
        return "%s.%s.%s" % (head, body, sig)
    elif kind == "words":
        w = ["ember", "quartz", "violet", "harbor", "maple", "cobalt", "saffron", "tundra"]
        v = "%s %s %s %03d%s" % (rnd.choice(w), rnd.choice(w), rnd.choice(w), n, rnd.choice(B62) * 3)
        return plant(cls, v)
    return plant(cls, v)


def out(path, text):
    files.setdefault(path, []).append(text)


API = "logs/edgemicro-gw2-9c1e-3-api.log"
CONSOLE = "logs/edgemicro.log"


def record(client_id, host="10.1.2.3:8080", url="orders/v1", level="error"):
    return (
        f"{TS} [{level}][{host}][42][acme][prod][{url}][::ffff:10.0.0.9][{client_id}]"
        "[0b9e6a10-cb2f-11f0-8c5e-1b2c3d4e5f60][plugins-middleware][targetRequest error]"
        "[GET][502][socket hang up][ECONNRESET][7]"
    )


def framing():
    prefixes = [
        "edge_1     | ",
        "\x1b[36medge-gw_2  |\x1b[0m ",
        "2026-11-24T03:23:43.512Z stdout F ",  # containerd CRI
        "<14>1 2026-11-24T03:23:43.512Z gw1 edgemicro 812 - - ",  # RFC 5424
        "Nov  4 03:23:43 gw1 node[77]: ",
        "[emg-5d8f/edgemicro] ",
        "\ufeff",
        "\t",
        "   ",
        "\x00",
        "2026-11-24 03:23:43,512 INFO ",
    ]
    for p in prefixes:
        out(API, p + record(fresh("framing")) + "\n")
    hosts = ["[fe80::1%eth0]:8443", "orders.internal", "[2001:db8::7]:443", "gw:80"]
    urls = ["a?b=]&c=[x]", "/o/[id]/x?y=[1]", "p?q=%5B%5D", "s/[[x]]"]
    for h, u in zip(hosts, urls):
        out(API, record(fresh("framing"), host=h, url=u, level=rnd.choice(["warn", "info", "error"])) + "\n")
    # Three records on one line, and one torn in the middle of its clientId's neighbour.
    out(API, record(fresh("framing")) + record(fresh("framing")) + record(fresh("framing")) + "\n")
    r = record(fresh("framing"))
    out(API, r[: r.index("[0b9e6a10") + 5] + "\n")


def node_printing():
    headers = ["authorization", "proxy-authorization", "x-api-key", "cookie", "x-client-key", "x-auth-token", "x-apigee-key"]
    for h in headers:
        v = fresh("node print")
        pre = "Bearer " if "author" in h else ""
        if h == "cookie":
            pre = "session="
        style = rnd.randrange(6)
        if style == 0:
            out(CONSOLE, f"[Object: null prototype] {{ host: 'gw', '{h}': '{pre}{v}' }}\n")
        elif style == 1:
            out(CONSOLE, json.dumps({"headers": {"host": "gw", h: pre + v}}) + "\n")
        elif style == 2:
            out(CONSOLE, f"Map(2) {{ 'host' => 'gw', '{h}' => '{pre}{v}' }}\n")
        elif style == 3:
            out(CONSOLE, f"  rawHeaders: [\n    'Host',\n    'gw:8000',\n    '{h.title()}',\n    '{pre}{v}',\n    'Accept',\n    '*/*'\n  ],\n")
        elif style == 4:
            out(CONSOLE, f"  headers: {{\n    host: 'gw:8000',\n    '{h}':\n      '{pre}{v}'\n  }}\n")
        else:
            out(CONSOLE, f"{h.upper()}: {pre}{v}\n")
    # set-cookie printed over several lines, and a cookie jar.
    a, b = fresh("node print"), fresh("node print")
    out(CONSOLE, f"  'set-cookie': [\n    'JSESSIONID={a}; Path=/; Secure',\n    'AWSALB={b}; Expires=Tue'\n  ],\n")
    # Colours around values (Node's inspect with colors: true).
    a = fresh("node print")
    out(CONSOLE, f"{{ \x1b[32m'x-api-key'\x1b[39m: \x1b[32m'{a}'\x1b[39m }}\n")
    # A PEM key printed as string concatenation, PKCS#8 this time, with a passphrase beside it.
    a, b, c = fresh("node print", "b64"), fresh("node print", "b64"), fresh("node print")
    out(CONSOLE, f"{{ cert: '...',\n  key:\n   '-----BEGIN PRIVATE KEY-----\\n' +\n   '{a}\\n' +\n   '{b}\\n' +\n   '-----END PRIVATE KEY-----\\n',\n  passphrase: '{c}' }}\n")


def urls():
    for scheme in ["mongodb+srv", "postgres", "mysql", "rediss", "ldaps", "ftp", "http", "smtp"]:
        v = fresh("urls")
        style = rnd.randrange(3)
        if style == 0:
            out(API, f"{TS} info 42 connecting {scheme}://svc:{v}@db.internal:1/x\n")
        elif style == 1:
            out(API, f"{TS} info 42 connecting {scheme}://:{v}@db.internal\n")
        else:
            out(API, f"{TS} info 42 connecting {scheme}://{v}@db.internal/\n")
    for param in ["client_secret", "access_token", "refresh_token", "id_token", "apikey", "api_key", "sig", "X-Amz-Signature", "password", "token", "key", "auth"]:
        v = fresh("urls", rnd.choice(["b62", "hex", "b64url"]))
        style = rnd.randrange(4)
        if style == 0:
            out(API, f"{TS} info 42 GET /cb?x=1&{param}={v}&y=2\n")
        elif style == 1:
            inner = f"https://app.internal/cb?{param}={v}&z=1"
            out(API, f"{TS} info 42 GET /login?next={urllib.parse.quote(inner, safe='')}\n")
        elif style == 2:
            inner = f"https://app.internal/cb?{param}={v}&z=1"
            twice = urllib.parse.quote(urllib.parse.quote(inner, safe=""), safe="")
            out(API, f"{TS} info 42 GET /login?continue={twice}\n")
        else:
            out(API, f"{TS} info 42 redirect https://app.internal/cb#{param}={v}&state=1\n")
    # Base64 JSON in a parameter other than state=.
    v = fresh("urls")
    blob = base64.b64encode(json.dumps({"secret": v}).encode()).decode()
    out(API, f"{TS} info 42 POST /acs?RelayState={blob}\n")
    # Password with a percent-encoded @ in the userinfo.
    v = fresh("urls")
    out(API, f"{TS} info 42 proxy http://ops:{v}%40x@proxy.internal:3128\n")


def configs():
    y = ["edgemicro:", "  port: 8000", "  keep_alive_timeout: " + keep("timeout", "61000"),
         "  logging:", "    level: info", "    dir: " + keep("path", "/var/log/edgemicro")]
    y.append("apikeys:")
    y.append("  api-key-header: X-Gw-Key")
    y.append("  allowNoAuthorization: " + keep("boolean", "false"))
    y.append("oauth:")
    y.append("  allowOAuthOnly: " + keep("boolean", "true"))
    y.append("  tokenCache: " + keep("boolean", "yes"))
    y.append("plugins_cfg:")
    for key in ["signing_secret", "privateKey", "passphrase", "passwd", "clientSecret",
                "consumer_secret", "apiSecret", "sessionToken", "webhookToken", "encryptionKey",
                "jwt_secret", "sas_token", "accessKeySecret", "bind_password", "masterKey",
                "basicAuth", "bearer", "credential", "SECRET", "Api-Key"]:
        v = fresh("configs")
        q = rnd.choice(["", "'", '"'])
        y.append(f"  {key}: {q}{v}{q}")
    # Flow mappings and sequences.
    y.append(f"  db: {{ user: emg, password: {fresh('configs')}, host: db }}")
    y.append(f"  api_keys: [ {fresh('configs')}, {fresh('configs')} ]")
    y.append("  secrets:")
    y.append(f"    - {fresh('configs')}")
    y.append(f"    - name: x\n      value: {fresh('configs')}")
    # Numeric and tagged secrets, anchors and aliases, folded and literal block scalars.
    y.append(f"  pin_password: {keep_num()}")
    y.append(f"  token: !!str {fresh('configs')}")
    y.append(f"  secret: &s {fresh('configs')}")
    y.append("  secret_copy: *s")
    y.append(f"  password: >-\n    {fresh('configs')}\n    {fresh('configs')}")
    y.append(f"  client_secret: |\n    {fresh('configs')}")
    y.append(f"  password: {fresh('configs')}  # rotated in 2025")
    y.append(f"  password: \"{fresh('configs')}\\\"{fresh('configs')}\"")
    # Connection strings of several kinds.
    y.append(f"  servicebus: Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={fresh('configs', 'b64')}")
    y.append(f"  mssql: \"Server=db;User Id=emg;Password={fresh('configs')};Encrypt=true\"")
    y.append(f"  jdbc: jdbc:mysql://db:3306/emg?user=emg&password={fresh('configs')}&useSSL=true")
    # A JSON string folded by js-yaml with the value on the next line.
    y.append(f"  client_json: '{{\"id\":\"emg\",\"password\":\n    \"{fresh('configs')}\"}}'")
    # Comments in several forms.
    y.append(f"  # token={fresh('configs')}")
    y.append(f"  #   previous secret -> {fresh('configs')}")
    y.append(f"  port: 9000 # key: {fresh('configs')}")
    # Harmless-looking keys holding credentials.
    y.append(f"  upstream_header: 'Bearer {fresh('configs', 'jwt')}'")
    y.append(f"  hook_url: https://svc:{fresh('configs')}@hooks.internal/x")
    y.append(f"  api_tokens: [ '&{fresh('configs')}' ]")
    y.append(f"  api_secret: '!{fresh('configs')}'")
    y.append(f"  api_password: '%{fresh('configs')}'")
    y.append("credentials:")
    y.append(f"  {fresh('mapping keys')}: {{ tenant: a }}")
    y.append(f"  ? {fresh('mapping keys')}\n  : tenant-b")
    y.append("oauthv2:")
    y.append("  public_key: |")
    y.append("    " + keep("pem armour", "-----BEGIN PUBLIC KEY-----"))
    y.append("    MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo")
    y.append("    " + keep("pem armour", "-----END PUBLIC KEY-----"))
    y.append("targets:")
    y.append("  - host: " + keep("host", "orders.internal"))
    y.append("    ssl:")
    y.append("      client:")
    y.append("        key: |")
    y.append("          " + keep("pem armour", "-----BEGIN EC PRIVATE KEY-----"))
    y.append("          " + fresh("configs", "b64"))
    y.append("          " + keep("pem armour", "-----END EC PRIVATE KEY-----"))
    y.append("        passphrase: " + fresh("configs", "words"))
    y.append("        rejectUnauthorized: " + keep("boolean", "false"))
    y.append("        secureProtocol: " + keep("tls", "TLSv1_2_method"))
    files["home/.edgemicro/acme-prod-config.yaml"] = ["\n".join(y) + "\n"]


def odd_configs():
    """YAML that is valid but unusual: CRLF endings, a second document, a merge key, a JSON
    document, a key with spaces or in capitals, a space before the colon."""
    y = "\r\n".join([
        "edgemicro:", "  port: 8000",
        f"  \"client secret\": {fresh('odd configs')}",
        f"  PASSWORD: {fresh('odd configs')}",
        f"  redis_password : {fresh('odd configs')}",
        "defaults: &d", f"  token: {fresh('odd configs')}",
        "quota:", "  <<: *d", f"  secret: {fresh('odd configs')}",
        "---", f"analytics:", f"  key: {fresh('odd configs')}", f"  secret: {fresh('odd configs')}",
        "  uri: " + keep("url", "https://edgemicroservices.apigee.net/edgemicro/axpublisher/organization/acme/environment/prod"),
    ]) + "\r\n"
    files["home/.edgemicro/acme-test-config.yaml"] = [y]
    j = json.dumps({"edgemicro": {"port": 8000, "keep_alive_timeout": 61500},
                    "oauth": {"client_secret": fresh("odd configs"), "allowNoAuthorization": False}})
    keep("timeout", '"keep_alive_timeout": 61500')
    files["home/.edgemicro/acme-json-config.yaml"] = [j + "\n"]


def named_files():
    """A secret in a log file's name (a token someone put in a rotation suffix)."""
    v = fresh("names")
    files[f"logs/edgemicro-gw-token={v}-1-api.log"] = [f"{TS} info 42 ok\n"]


def keep_num():
    # A numeric password (YAML reads it as an integer); the value is still secret.
    v = str(rnd.randrange(10**13, 10**14))
    return plant("configs", v)


def env_and_argv():
    for name in ["EDGEMICRO_SECRET", "NPM_TOKEN", "DB_PASSWORD", "REDIS_PASS", "APIGEE_MGMT_TOKEN",
                 "OAUTH_CLIENT_SECRET", "npm_config__authToken", "GH_PAT", "SLACK_WEBHOOK_SECRET"]:
        v = fresh("env/argv")
        style = rnd.randrange(5)
        if style == 0:
            out(CONSOLE, f"declare -x {name}=\"{v}\"\n")
        elif style == 1:
            out(CONSOLE, f"  \"Env\": [\n    \"PATH=/usr/bin\",\n    \"{name}={v}\",\n")
        elif style == 2:
            out(CONSOLE, f"        - name: {name}\n          value: \"{v}\"\n")
        elif style == 3:
            out(CONSOLE, f"{name}: {v}\n")
        else:
            out(CONSOLE, f"env {name}={v} edgemicro start\n")
    out(CONSOLE, f"HTTPS_PROXY=http://ops:{fresh('env/argv')}@proxy.internal:3128\n")
    # Commands whose -p is a password, and one whose -p is a process count.
    cmds = [
        "edgemicro cert install -o acme -e prod -u ops@acme.example -p {p}",
        "edgemicro genkeys -o acme -e prod -u ops@acme.example -p {p}",
        "edgemicro private configure -o acme -e prod -u admin -p {p} -r https://mgmt",
        "edgemicro token get -o acme -e prod -i {k} -s {p}",
        "edgemicro upgradekvm -o acme -e prod -k {k} -s {p}",
        "edgemicro revokekeys -o acme -e prod -u admin -p {p} -k {k} -s {p2}",
        "pm2 start edgemicro -- start -o acme -e prod --key {k} --secret {p}",
        "node /usr/lib/node_modules/edgemicro/cli/edgemicro start -o acme -e prod -k {k} -s {p} -p 2",
        "edgemicro start -o acme -e prod --key={k} --secret={p}",
        "edgemicro configure -o acme -e prod -u ops -p \"{w}\"",
    ]
    for c in cmds:
        out(CONSOLE, c.format(p=fresh("env/argv"), p2=fresh("env/argv"), k=fresh("env/argv", "hex"),
                              w=fresh("env/argv", "words")) + "\n")
    keep("process count", "edgemicro start -o acme -e prod -p 2")
    out(CONSOLE, "edgemicro start -o acme -e prod -p 2\n")


def plugin_debug():
    msgs = [
        "  plugin:oauth Invalid token: {t} +2ms",
        "  plugin:oauth token expired {t}",
        "  plugin:apikeys verifying api key {k}",
        "  plugin:apikeys apikey {k} not found in cache +0ms",
        "  plugin:extauth jwt {t} failed verification",
        "  plugin:oauth cached token for {k}",
        "  gateway:main api_key={k} rejected",
        "  plugin:oauthv2 bearer {t}",
    ]
    for m in msgs:
        out(CONSOLE, m.format(t=fresh("plugin debug", "jwt"), k=fresh("plugin debug")) + "\n")
    out(CONSOLE, "REQUEST { uri: 'https://orders.internal/x',\n  headers:\n   { authorization: 'Basic %s' } }\n"
        % base64.b64encode(("svc:" + fresh("plugin debug")).encode()).decode())


def entropy():
    words = ["sig", "hash-secret", "privkey", "credentialsBlob", "sessionKey", "otp_seed", "license_key"]
    for w in words:
        v = fresh("high entropy", rnd.choice(["hex", "b64", "b64url"]))
        sep = rnd.choice([" = ", ": ", " -> ", "=", " is "])
        out(API, f"{TS} info 42 {w}{sep}{v}\n")
    # A JWT anywhere is a credential.
    out(API, f"{TS} info 42 upstream replied with {fresh('high entropy', 'jwt')}\n")


def splits():
    for cut in [3, 9, 15]:
        v = fresh("splits")
        head = f"{TS} info 42 password="
        pad = 16384 - len(head) - cut
        out(API, head + "y" * pad + v[:cut] + "\n" + v[cut:] + " end\n")


def piece_cuts():
    """Lines over 1 MiB, the tool's piece size: the secret sits where the piece is cut (the
    cut falls after a separator near 1 MiB, so between a key and its value, or inside it)."""
    shapes = ['{{"password":"{v}"}}', "Authorization: Bearer {v} ", "&client_secret={v}&",
              "x-api-key: '{v}' ", "EDGEMICRO_SECRET={v} ", '"apiKey": "{v}",']
    mark = 1 << 20
    for i, shape in enumerate(rnd.sample(shapes, 3)):
        v = fresh("piece cuts")
        text = shape.format(v=v)
        head = f"{TS} info 42 "
        at = rnd.randrange(1, len(text) - 2)  # the mark falls on this byte of the shape
        need = mark - len(head) - at
        unit = '{"n":1},'
        fill = (unit * (need // len(unit) + 1))[:need]
        files[f"logs/edgemicro-cut{i}-api.log"] = [head + fill + text + unit * 4 + "\n"]


def protected_values():
    keep("timeout", "keep_alive_timeout: 61000")
    out(API, "1700000000125 error targetResponse error m=GET, u=/x, code=" + keep("error code", "ETIMEDOUT") + ", stack=Error\n")
    out(API, "1700000000126 error targetRequest error code=" + keep("error code", "EPIPE") + "\n")
    out(API, f"{TS} info 42 code=" + keep("error code", "ERR_TLS_CERT_ALTNAME_INVALID") + "\n")
    out(API, f"{TS} info 42 " + keep("status", "statusCode=502") + "\n")
    for v in ["4b1d2c3e-8f7a-4e2b-9c1d-0a1b2c3d4e5f", "10.9.8.7:8443", "v20.18.1", "3.3.7",
              "2026-11-24T03:23:43.509Z", "1700000000125", "/opt/apigee/customer", "sha256:" + "ab" * 32,
              "ECONNRESET", "socket hang up", "keepAliveTimeout=5000"]:
        out(API, f"{TS} info 42 seen {keep('diagnostic', v)}\n")
    out(CONSOLE, keep("path", "PWD=/home/edgemicro") + "\n")
    out(CONSOLE, keep("path", "OLDPWD=/opt/apigee") + "\n")
    out(CONSOLE, keep("boolean", "DEBUG_KEY_CACHE=false") + "\n")
    out(CONSOLE, keep("flag", "curl -k -H 'Host: gw'") + " http://gw:8000/x\n")
    # Evidence that sits next to a credential word: the traps for a redactor that guesses.
    near = [
        "api-key-header: x-api-key", "keep-api-key: false", "token_expiry: 300", "tokenCache: true",
        "Authorization header missing", "x-api-key header not found", "error=invalid_token",
        "secret rotation scheduled for Sunday", "code: 'ECONNRESET'", '"code":"ECONNRESET"',
        "errno: -104", "syscall: 'read'", "session_timeout: 30000", "keepAliveTimeout: 5000",
        "signature verification failed", "key: /opt/apigee/ssl/server.key", "cert: /etc/ssl/gw.pem",
        "publicKey: https://edgemicroservices.apigee.net/edgemicro/publicKey/organization/acme/environment/prod",
        "SSL_CERT_FILE=/etc/ssl/cert.pem", "NODE_EXTRA_CA_CERTS=/etc/ssl/ca.pem",
        "HTTP_PROXY=http://proxy.internal:3128", "DEBUG=plugin:*",
        "token endpoint https://acme-prod.apigee.net/edgemicro-auth/token",
        'WWW-Authenticate: Bearer error="invalid_token"', 'Basic realm="emg"',
        "key_file: /etc/edgemicro/x.key", "max_connections: 1000", "--processes 4",
        "password: REDACTED", "token: ***", "x-api-key: xxxx", "secretKey: null",
        "jwk_url: https://acme-prod.apigee.net/edgemicro-auth/jwkPublicKeys",
        "etag: 33a64df551425fcc55e4d42a148795d9f25f89d4",
        "x-request-id: 4c1d0e10-cb2f-11f0-8c5e-1b2c3d4e5f60",
        "session 7 closed after 65000 ms", "apikey cache size 100",
        "Authorization: none", "keyFile: certs/server.key", "private_key_path: certs/server.key",
        "token_ttl: 3600", "password policy: minimum 12 characters", "apiKeyRequired: true",
        "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "signature algorithm RS256 verified", "credentials: {}", "keystore: /opt/apigee/keystore.jks",
    ]
    for v in near:
        out(rnd.choice([API, CONSOLE]), f"{TS} info 42 {keep('near a credential word', v)}\n")


def other_printers():
    """Header and credential printers beyond Node: 2.x k=v records, docker's json-file lines,
    curl -v transcripts, name/value pairs (HAR, k8s JSON), XML bodies, CRLF endings, the
    non-TTY debug style, a Cloud Foundry manifest."""
    out(API, f"1700000000127 info targetRequest m=GET, u=/orders?apikey={fresh('printers')}&x=1, h=10.0.0.5:8080, r=:0, d=3\n")
    out(API, f"1700000000128 warn headers={{\"x-api-key\":\"{fresh('printers')}\",\"host\":\"gw\"}}, code=ECONNRESET\n")
    v = fresh("printers")
    out(CONSOLE, json.dumps({"log": f"authorization: Bearer {v}\n", "stream": "stdout", "time": TS}) + "\n")
    v = fresh("printers")
    out(CONSOLE, json.dumps({"log": f"EDGEMICRO_SECRET={v}\n", "stream": "stderr", "time": TS}) + "\n")
    out(CONSOLE, f"> GET /x HTTP/1.1\r\n> Authorization: Bearer {fresh('printers')}\r\n> x-api-key: {fresh('printers')}\r\n")
    out(CONSOLE, f"< Set-Cookie: sid={fresh('printers')}; HttpOnly\r\n")
    for name in ["x-api-key", "Authorization", "DB_PASSWORD", "client_secret"]:
        v = fresh("printers")
        if rnd.randrange(2):
            out(CONSOLE, json.dumps([{"name": "host", "value": "gw"}, {"name": name, "value": v}]) + "\n")
        else:
            out(CONSOLE, json.dumps({"headers": [{"name": name, "value": v}]}, indent=2) + "\n")
    for tag in ["password", "ClientSecret", "consumerSecret", "apiKey"]:
        out(CONSOLE, f"<App><{tag}>{fresh('printers')}</{tag}></App>\n")
    out(CONSOLE, f"Tue, 24 Nov 2026 03:23:43 GMT plugin:oauth token {fresh('printers', 'jwt')}\n")
    out(CONSOLE, f"applications:\n- name: emg\n  env:\n    EDGEMICRO_KEY: {fresh('printers', 'hex')}\n    EDGEMICRO_SECRET: '{fresh('printers', 'hex')}'\n")
    out(API, f"{TS} info 42 oauth.client.secret = {fresh('printers')}\n")
    out(API, f"{TS} info 42 Authorization=Bearer%20{fresh('printers')}\n")
    out(API, f"{TS} info 42 GET /x?a=1;api_key={fresh('printers')};b=2\n")


def tools():
    """Credentials handed to other tools on a gateway: curl, mysql, .netrc, .npmrc, docker -e,
    axios and request error dumps, fluent-bit and syslog framing, an OAuth client id."""
    out(CONSOLE, f"curl -u svc:{fresh('tools')} https://gw.internal/x\n")
    out(CONSOLE, f"curl --proxy-user ops:{fresh('tools')} -x http://proxy:3128 https://gw/x\n")
    out(CONSOLE, f"mysql -h db -u emg -p{fresh('tools')} emg\n")
    out(CONSOLE, f"machine gw.internal login svc password {fresh('tools')}\n")
    out(CONSOLE, f"//registry.npmjs.org/:_authToken={fresh('tools')}\n")
    out(CONSOLE, f"docker run -e EDGEMICRO_KEY={fresh('tools', 'hex')} -e EDGEMICRO_SECRET={fresh('tools', 'hex')} gcr.io/apigee/edgemicro\n")
    out(CONSOLE, f"    at TLSSocket.emit {{ config: {{ headers: AxiosHeaders {{ Accept: 'application/json', Authorization: 'Bearer {fresh('tools')}', 'x-api-key': '{fresh('tools')}' }} }} }}\n")
    out(CONSOLE, f"REQUEST {{ uri: 'https://t/x', auth: {{ user: 'svc', pass: '{fresh('tools')}' }}, sendImmediately: true }}\n")
    out(CONSOLE, f"connecting https://svc:Zx9@{fresh('tools')}@db.internal/x\n")
    out(CONSOLE, json.dumps({"log": record(fresh("tools")) + "\n", "stream": "stdout", "kubernetes": {"pod_name": "emg-0"}}) + "\n")
    out(CONSOLE, "<13>Nov 24 03:23:43 gw1 edgemicro: " + record(fresh("tools")) + "\n")
    out(API, f"{TS} info 42 client credentials clientId={fresh('tools')} clientSecret={fresh('tools')}\n")
    keep("flag", "curl -u admin https://gw.internal/health")
    out(CONSOLE, "curl -u admin https://gw.internal/health\n")


def main():
    tools()
    other_printers()
    framing()
    node_printing()
    urls()
    configs()
    odd_configs()
    named_files()
    env_and_argv()
    plugin_debug()
    entropy()
    splits()
    piece_cuts()
    protected_values()
    files["home/.edgemicro/default.yaml"] = ["edgemicro:\n  port: 8000\n  logging: {level: info, dir: /var/log/edgemicro}\n"]
    for rel, pieces in files.items():
        p = os.path.join(OUT, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write("".join(pieces))
    # UTF-16LE without a BOM, and UTF-16BE with one.
    v = fresh("utf-16")
    with open(os.path.join(OUT, "logs/edgemicro-ps.log"), "wb") as f:
        f.write(f"EDGEMICRO_SECRET={v}\r\n".encode("utf-16-le"))
    v = fresh("utf-16")
    with open(os.path.join(OUT, "logs/edgemicro-be.log"), "wb") as f:
        f.write(b"\xfe\xff" + f"token: {v}\n".encode("utf-16-be"))
    env.update({"EDGEMICRO_KEY": plant("known", "c0ffee" + rnd.randbytes(29).hex())})
    with open(os.path.join(OUT, "env.json"), "w") as f:
        json.dump(env, f)
    with open(os.path.join(OUT, "oracle.json"), "w") as f:
        json.dump({"planted": planted, "protected": protected}, f, indent=1)


main()
