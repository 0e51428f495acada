// ops_autodiscovery.js - ElastiCache auto-discovery clients against mcd's
// `config get cluster` (run by ops-autodiscovery.sh, which installs the npm
// clients into a temporary directory and starts the servers).
//
//   node ops_autodiscovery.js MODULES_DIR CFG_PORT CFG_PID CLUSTER_FILE PORT_B PORT_C PORT_D
//
// The config endpoint (CFG_PORT, pid CFG_PID) serves CLUSTER_FILE, which
// names B and C. memcached-elasticache must find B and C and spread keys
// over both (their curr_items); memcache-plus with autodiscover must find
// them too. Then the file gains D and the endpoint gets SIGHUP: at its next
// poll memcached-elasticache sees three nodes, and keys reach D.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');

const [modules, cfgPort, cfgPid, clusterFile, portB, portC, portD] = process.argv.slice(2);
const Elasticache = require(path.join(modules, 'memcached-elasticache'));
const MemcachePlus = require(path.join(modules, 'memcache-plus'));

function fail(msg) {
    console.error('FAIL: ' + msg);
    process.exit(1);
}

// one raw text request; resolves with the reply up to a line "END"
function request(port, line) {
    return new Promise((resolve, reject) => {
        const s = net.connect(Number(port), '127.0.0.1');
        let buf = '';
        s.setTimeout(5000, () => { s.destroy(); reject(new Error('timeout')); });
        s.on('error', reject);
        s.on('data', (d) => {
            buf += d.toString('latin1');
            if (/(^|\r\n)END\r\n$/.test(buf)) {
                s.end();
                resolve(buf);
            }
        });
        s.write(line + '\r\n');
    });
}

async function currItems(port) {
    const m = /STAT curr_items (\d+)/.exec(await request(port, 'stats'));
    return m ? Number(m[1]) : -1;
}

function node(port) {
    return `127.0.0.1:${port}`;
}

function waitFor(what, cond, ms) {
    const deadline = Date.now() + ms;
    return new Promise((resolve, reject) => {
        const tick = () => {
            const v = cond();
            if (v) return resolve(v);
            if (Date.now() > deadline) return reject(new Error('timed out waiting for ' + what));
            setTimeout(tick, 20);
        };
        tick();
    });
}

function setKey(client, key) {
    return new Promise((resolve, reject) => {
        client.set(key, 'v-' + key, 0, (err) => (err ? reject(err) : resolve()));
    });
}

async function main() {
    // the raw reply: ElastiCache's bytes
    const raw = await request(cfgPort, 'config get cluster');
    const body = `1\n127.0.0.1|127.0.0.1|${portB} 127.0.0.1|127.0.0.1|${portC}\n`;
    const want = `CONFIG cluster 0 ${body.length}\r\n${body}\r\nEND\r\n`;
    if (raw !== want)
        fail(`config get cluster: ${JSON.stringify(raw)}, want ${JSON.stringify(want)}`);

    // memcached-elasticache: discovery, polling every 200 ms
    let seen = null;
    const client = new Elasticache(node(cfgPort), { autoDiscoverInterval: 200, retries: 0, timeout: 2000 });
    client.on('autoDiscover', (nodes) => { seen = nodes.slice().sort(); });
    client.on('autoDiscoverFailure', (err) => fail('autoDiscoverFailure: ' + err));
    await waitFor('the first discovery', () => seen, 10000);
    const two = [node(portB), node(portC)].sort();
    if (JSON.stringify(seen) !== JSON.stringify(two))
        fail(`discovered ${seen}, want ${two}`);

    const N = 200;
    for (let i = 0; i < N; i++)
        await setKey(client, 'ad:' + i);
    const b = await currItems(portB), c = await currItems(portC), cfg = await currItems(cfgPort);
    console.log(`after discovery: B ${b} C ${c} endpoint ${cfg}`);
    if (b + c !== N || b === 0 || c === 0 || cfg !== 0)
        fail(`keys not spread over B and C: B ${b}, C ${c}, endpoint ${cfg}`);

    // memcache-plus: autodiscover finds the same nodes
    const plus = new MemcachePlus({ hosts: [node(cfgPort)], autodiscover: true, onNetError: () => {} });
    await plus.set('plus:key', 'x');
    if (await plus.get('plus:key') !== 'x')
        fail('memcache-plus: get after set');
    const plusHosts = plus.hosts.slice().sort();
    if (JSON.stringify(plusHosts) !== JSON.stringify(two))
        fail(`memcache-plus discovered ${plusHosts}, want ${two}`);
    plus.disconnect();

    // a changed list, re-read on SIGHUP, seen at the next poll
    fs.appendFileSync(clusterFile, `127.0.0.1 127.0.0.1 ${portD}\n`);
    process.kill(Number(cfgPid), 'SIGHUP');
    const three = [node(portB), node(portC), node(portD)].sort();
    await waitFor('the changed list', () => JSON.stringify(seen) === JSON.stringify(three), 10000);
    const v2 = await request(cfgPort, 'config get cluster');
    if (!/^CONFIG cluster 0 \d+\r\n2\n/.test(v2))
        fail('version after the change: ' + JSON.stringify(v2));
    for (let i = 0; i < N; i++)
        await setKey(client, 'ad2:' + i);
    const d = await currItems(portD);
    console.log(`after the change: D ${d}`);
    if (d === 0)
        fail('no key reached the new node');

    client.end();
    console.log('PASS'); // an unchanged re-read keeping its version: tests/integration/test_cluster_config.c
    process.exit(0);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
