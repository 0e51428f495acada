<?php
// catalog.php - cache-aside in PHP: php-memcached in front of PostgreSQL.
//
//   php catalog.php TENANT ID...    prints each product as a JSON line
//
// Every PHP request is a new process with nothing shared, so the cache is
// what lets the second request skip the database. Configuration from the
// environment: MCD_SERVER (host:port, default 127.0.0.1:11211) and PG_DSN
// (a libpq connection string). Keys match examples/python/catalog.py, so
// both languages share one cache.

const TTL = 300;

function cache(): Memcached
{
    [$host, $port] = explode(':', getenv('MCD_SERVER') ?: '127.0.0.1:11211');
    $mc = new Memcached();
    $mc->addServer($host, (int)$port);
    return $mc;
}

// $db() opens the database connection the first time it is needed: a
// request served from the cache never connects.
function product(Memcached $mc, callable $db, int $tenant, int $id): ?array
{
    $key = "tenant:$tenant:product:$id";
    $cached = $mc->get($key);
    if ($cached !== false) {
        return json_decode($cached, true);
    }
    // a miss: the database, then the cache (add: a newer value a writer
    // stored meanwhile wins)
    $res = pg_query_params($db(),
        'SELECT name, price_cents FROM products WHERE tenant = $1 AND id = $2', [$tenant, $id]);
    $row = pg_fetch_assoc($res);
    if ($row === false) {
        return null;
    }
    $product = ['tenant' => $tenant, 'id' => $id, 'name' => $row['name'],
                'price_cents' => (int)$row['price_cents']];
    $mc->add($key, json_encode($product), TTL);
    return $product;
}

if ($argc < 3) {
    fwrite(STDERR, "usage: php catalog.php TENANT ID...\n");
    exit(2);
}
$mc = cache();
$conn = null;
$db = function () use (&$conn) {
    return $conn ??= pg_connect(getenv('PG_DSN') ?: '');
};
$tenant = (int)$argv[1];
foreach (array_slice($argv, 2) as $id) {
    echo json_encode(product($mc, $db, $tenant, (int)$id)), "\n";
}
