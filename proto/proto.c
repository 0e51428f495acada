/*
 * proto.c - protocol-neutral helpers: command names from the MC_COMMANDS
 * table in proto.h.
 */
#include "config.h"

#include "proto/proto.h"

static const char *const cmd_names[MC_CMD__COUNT] = {
#define X(id, name) [MC_CMD_##id] = name,
    MC_COMMANDS(X)
#undef X
};

const char *mc_cmd_name(enum mc_cmd cmd)
{
    if ((unsigned)cmd >= MC_CMD__COUNT)
        return "unknown";
    return cmd_names[cmd];
}
