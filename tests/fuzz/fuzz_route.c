/* libFuzzer target: route matching, templates, query strings.
 * Input: PATH '\n' QUERY '\n' CLAIMS-JSON, against a fixed set of routes. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include "config.h"
#include "channel.h"
#include "route.h"

static config_t *cfg;

static const char conf[] =
    "{\"routes\": ["
    "{\"path\": \"/boards/{board}/events\", \"channels\": [\"board/{board}\", \"user/{sub}\"]},"
    "{\"path\": \"/sync\", \"channels\": [\"sync/{query.app}/{claim.tenant}/{sub}\"]},"
    "{\"path\": \"/a/{x}/{y}\", \"channels\": [\"{x}-{y}\"], \"auth\": \"none\"}"
    "]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!cfg && !(cfg = config_parse(conf, sizeof(conf) - 1, err, sizeof(err))))
        abort();

    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char *query = strchr(in, '\n');
    char *claims_txt = NULL;
    if (query) {
        *query++ = '\0';
        if ((claims_txt = strchr(query, '\n')))
            *claims_txt++ = '\0';
    }
    json_t *claims = claims_txt ? json_loads(claims_txt, 0, NULL) : NULL;
    route_params_t p;
    const route_t *r = route_find(cfg->routes, cfg->nroutes, in, strlen(in), &p);
    if (r) {
        buf_t out;
        buf_init(&out, 1024);
        for (size_t i = 0; i < r->nchannels; i++) {
            if (tpl_expand(&r->channels[i], &p, query, claims, &out, err, sizeof(err)) == 0) {
                if (!channel_valid(out.data, out.len) || memchr(out.data, '*', out.len))
                    __builtin_trap();
                (void)grant_allows(claims, out.data);
            }
        }
        buf_free(&out);
    }
    char v[256];
    if (query)
        (void)query_get(query, "app", v, sizeof(v));
    json_decref(claims);
    free(in);
    return 0;
}
