/*
 * debug.c - the thread tag behind the store's lock owner records (debug.h);
 * empty in a release build.
 */
#include "config.h"

#include "store/debug.h"

#if STORE_DEBUG
_Thread_local char store_debug_tag;
#else
typedef int store_debug_release_build; /* ISO C wants a declaration */
#endif
