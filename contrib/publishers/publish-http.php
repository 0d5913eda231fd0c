<?php
// publish-http.php -- publish to zsse over HTTP from PHP: the curl
// extension only (Debian: php-curl), no PECL.  POSTs SPEC 4 messages to a
// route of "type": "publish" and returns the ids the broker assigned.
//
//   php publish-http.php URL TOKEN CHANNEL EVENT JSON_DATA
//
// TOKEN: a JWT whose "publish" claim covers CHANNEL, e.g.
//   zsse token --sub app --claim 'publish=["user/*"]'

/** POST one message (or a list of them); the ids, or an exception */
function zsse_publish(string $url, string $token, array $messages): array
{
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => json_encode(count($messages) === 1 ? $messages[0] : $messages,
            JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR),
        CURLOPT_HTTPHEADER => ['Content-Type: application/json', "Authorization: Bearer $token"],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 10,
    ]);
    $body = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    $error = curl_error($ch);
    curl_close($ch);
    $reply = is_string($body) ? json_decode($body, true) : null;
    if ($status !== 200 || !isset($reply['ids'])) {
        throw new RuntimeException("publish failed: HTTP $status " . ($reply['message'] ?? $error));
    }
    return $reply['ids'];
}

if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    if ($argc !== 6) {
        fwrite(STDERR, "usage: php publish-http.php URL TOKEN CHANNEL EVENT JSON_DATA\n");
        exit(2);
    }
    [, $url, $token, $channel, $event, $data] = $argv;
    try {
        $ids = zsse_publish($url, $token, [[
            'channel' => $channel, 'event' => $event,
            'data' => json_decode($data, false, 512, JSON_THROW_ON_ERROR),
        ]]);
        echo implode("\n", $ids), "\n";
    } catch (Throwable $e) {
        fwrite(STDERR, $e->getMessage() . "\n");
        exit(1);
    }
}
