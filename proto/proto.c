/*
 * proto.c - protocol-neutral helpers: command names from the MC_COMMANDS
 * table in proto.h, their kinds, and the key iterator of a request.
 */
#include "config.h"

#include "proto/proto.h"

#include "proto/token.h"

static const char *const cmd_names[MC_CMD__COUNT] = {
#define X(id, name, kind) [MC_CMD_##id] = name,
    MC_COMMANDS(X)
#undef X
};

static const unsigned char cmd_kinds[MC_CMD__COUNT] = {
#define X(id, name, kind) [MC_CMD_##id] = MC_KIND_##kind,
    MC_COMMANDS(X)
#undef X
};

const char *mc_cmd_name(enum mc_cmd cmd)
{
    if ((unsigned)cmd >= MC_CMD__COUNT)
        return "unknown";
    return cmd_names[cmd];
}

enum mc_cmd_kind mc_cmd_kind(enum mc_cmd cmd)
{
    if ((unsigned)cmd >= MC_CMD__COUNT)
        return MC_KIND_OTHER;
    return (enum mc_cmd_kind)cmd_kinds[cmd];
}

bool mc_request_next_key(const struct mc_request *req, size_t *pos, const char **key, size_t *nkey)
{
    if (req->key != NULL) {
        if (*pos > 0)
            return false;
        *pos = 1;
        *key = req->key;
        *nkey = req->nkey;
        return true;
    }
    return token_next(req->keys, req->keys_len, pos, key, nkey);
}
