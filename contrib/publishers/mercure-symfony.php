<?php
// mercure-symfony.php -- publish a Mercure update to zsse's Mercure route
// with Symfony's Mercure component (Debian: php-symfony-mercure, php-cli).
//
//   php mercure-symfony.php HUB_URL TOKEN TOPIC DATA [--private] [--id ID] [--type TYPE]
//
// TOKEN: a JWT with a mercure.publish claim covering TOPIC, e.g.
//   zsse token --sub app --claim 'mercure={"publish":["https://example.com/books/{id}"]}'
// Prints the update's id as the hub answered it.
require_once '/usr/share/php/Symfony/Component/Mercure/autoload.php';

use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\Jwt\StaticTokenProvider;
use Symfony\Component\Mercure\Update;

[$self, $url, $token, $topic, $data] = array_pad($argv, 5, null);
if ($data === null) {
    fwrite(STDERR, "usage: php mercure-symfony.php HUB_URL TOKEN TOPIC DATA [--private] [--id ID] [--type TYPE]\n");
    exit(2);
}
$opts = array_slice($argv, 5);
$private = in_array('--private', $opts, true);
$opt = function (string $name) use ($opts): ?string {
    $i = array_search($name, $opts, true);
    return $i === false ? null : ($opts[$i + 1] ?? null);
};

$hub = new Hub($url, new StaticTokenProvider($token));
try {
    echo $hub->publish(new Update($topic, $data, $private, $opt('--id'), $opt('--type'))), "\n";
} catch (Throwable $e) {
    fwrite(STDERR, 'publish failed: ' . $e->getMessage() . ($e->getPrevious() ? ': ' . $e->getPrevious()->getMessage() : '') . "\n");
    exit(1);
}
