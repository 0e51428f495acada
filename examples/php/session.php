<?php
// session.php - PHP sessions stored in mcd, shared by every PHP process.
//
//   php session.php write NAME VALUE   starts a session, stores NAME=VALUE,
//                                      prints the session id
//   php session.php read ID NAME       prints NAME from session ID (empty
//                                      when the session is gone)
//   php session.php incr ID NAME       adds 1 to NAME in session ID, prints it
//
// The configuration is php.ini's, nothing in the code:
//   session.save_handler = memcached
//   session.save_path    = "127.0.0.1:11211"     (host:port[,host:port...])
//   session.gc_maxlifetime = 1440                (the sessions' TTL in mcd)
// php-memcached stores the session under "memc.sess.key.<id>" with that TTL
// and locks it while a request runs ("lock.<id>", add/delete), so two
// requests of one user do not overwrite each other.

if ($argc !== 4 || !in_array($argv[1], ['write', 'read', 'incr'], true)) {
    fwrite(STDERR, "usage: php session.php write NAME VALUE | read ID NAME | incr ID NAME\n");
    exit(2);
}
if ($argv[1] === 'write') {
    session_start();
    $_SESSION[$argv[2]] = $argv[3];
    echo session_id(), "\n";
} elseif ($argv[1] === 'read') {
    session_id($argv[2]); // a web request would carry it in its cookie
    session_start(['read_and_close' => true]);
    echo $_SESSION[$argv[3]] ?? '', "\n";
} else {
    // read-modify-write: the session lock keeps concurrent requests of one
    // user from losing each other's changes
    session_id($argv[2]);
    if (!session_start()) {
        exit(1);
    }
    $_SESSION[$argv[3]] = ($_SESSION[$argv[3]] ?? 0) + 1;
    echo $_SESSION[$argv[3]], "\n";
}
