<?php
// publish-zmq.php -- publish to zsse's broker over ZeroMQ from PHP
// (Debian: php-zmq): one JSON message (SPEC 4) per ZeroMQ frame to the
// broker's "publish" endpoint.  Fire and forget, like `zsse publish`
// without --ack: the send waits (up to 3 s) only for a broker to be
// connected; for a stored-and-acknowledged publish use the HTTP route.
//
//   php publish-zmq.php tcp://127.0.0.1:7701 CHANNEL EVENT JSON_DATA

if ($argc !== 5) {
    fwrite(STDERR, "usage: php publish-zmq.php ENDPOINT CHANNEL EVENT JSON_DATA\n");
    exit(2);
}
[, $endpoint, $channel, $event, $data] = $argv;

$push = (new ZMQContext())->getSocket(ZMQ::SOCKET_PUSH);
$push->setSockOpt(ZMQ::SOCKOPT_IMMEDIATE, 1);      // queue only on a live connection
$push->setSockOpt(ZMQ::SOCKOPT_SNDTIMEO, 3000);
$push->setSockOpt(ZMQ::SOCKOPT_LINGER, 1000);
$push->connect($endpoint);
$msg = json_encode(['channel' => $channel, 'event' => $event,
    'data' => json_decode($data, false, 512, JSON_THROW_ON_ERROR)],
    JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
if ($push->send($msg) === false) {
    fwrite(STDERR, "no broker took the message within 3 s ($endpoint)\n");
    exit(1);
}
