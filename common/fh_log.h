/*
 * fh_log: the one logging module every part of Funkhaus uses. Lines go to stderr (journald
 * or the run script's file) as "time level component: message". Callers pass pseudonyms,
 * never display names, chat text, passwords or tokens; a room name may appear only at
 * FH_LOG_CRIT.
 */
#ifndef FH_LOG_H
#define FH_LOG_H

enum fh_log_level { FH_LOG_CRIT, FH_LOG_ERR, FH_LOG_WARN, FH_LOG_INFO, FH_LOG_DEBUG };

void fh_log_init(const char *component, enum fh_log_level max);
int fh_log_level_parse(const char *s, enum fh_log_level *out);
void fh_log(enum fh_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FH_CRIT(...) fh_log(FH_LOG_CRIT, __VA_ARGS__)
#define FH_ERR(...) fh_log(FH_LOG_ERR, __VA_ARGS__)
#define FH_WARN(...) fh_log(FH_LOG_WARN, __VA_ARGS__)
#define FH_INFO(...) fh_log(FH_LOG_INFO, __VA_ARGS__)
#define FH_DEBUG(...) fh_log(FH_LOG_DEBUG, __VA_ARGS__)

#endif
