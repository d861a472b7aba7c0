/*
 * fh_conf: the INI-style configuration file both daemons read ("[section]", "key = value",
 * "#" comments). Each daemon passes a callback that takes the keys it knows; an unknown key
 * or a malformed line is an error with its line number, so a typo never goes unnoticed.
 */
#ifndef FH_CONF_H
#define FH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns 0 to accept, -1 to reject (unknown key or bad value). A bad value says why in err,
 * or leaves that to the value helper below that refused it; a rejection nobody explained is
 * reported as an unknown key. */
typedef int (*fh_conf_cb)(void *ctx, const char *section, const char *key, const char *value,
			  char *err, size_t err_len);

/* 0 on success; -1 with a message "path:line: what" in err. */
int fh_conf_load(const char *path, fh_conf_cb cb, void *ctx, char *err, size_t err_len);

/*
 * Both daemons' command line: "-c CONFIG" (or --config), then the file is loaded with cb.
 * Returns 0 to go on, or the exit status (0 after --help, 2 on a usage or config error).
 */
int fh_conf_main(int argc, char **argv, const char *prog, fh_conf_cb cb, void *ctx, bool *done);

/* The file fh_conf_main loaded ("" before), for a reload. */
const char *fh_conf_path(void);

/* Value helpers: 0 on success, -1 when the text is not a valid value in range, with the reason
 * kept for fh_conf_load's message ("\"banana\" is not a port: a number from 1 to 65535"). */
int fh_conf_uint(const char *v, unsigned long min, unsigned long max, unsigned long *out);
int fh_conf_port(const char *v, unsigned long min, unsigned long max, unsigned long *out);
int fh_conf_bool(const char *v, bool *out);

#endif
