/*
 * fh_log: the one logging module every part of Funkhaus uses. Lines go to stderr (journald
 * or the run script's file), or with [instance] log_dir to files the daemon keeps itself:
 * "<component>-YYYY-MM-DD.log" (UTC), a new one each day, readable by the daemon's user only,
 * deleted once older than the retention days unless an admin's legal hold covers their day.
 * Line format: "time level component: message"; a line repeated at once is written once and then
 * counted ("… repeated N times"). Callers pass pseudonyms, never display names,
 * chat text, passwords or tokens; a room name may appear only at FH_LOG_CRIT.
 */
#ifndef FH_LOG_H
#define FH_LOG_H

enum fh_log_level { FH_LOG_CRIT, FH_LOG_ERR, FH_LOG_WARN, FH_LOG_INFO, FH_LOG_DEBUG };

void fh_log_init(const char *component, enum fh_log_level max);
int fh_log_level_parse(const char *s, enum fh_log_level *out);
void fh_log(enum fh_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Repeats: a line equal to one of the last few (level, format and text) that comes within
 * quiet_ms of its last time is counted, not written, and "<line> … repeated N times" follows
 * once it has been quiet that long or every report_ms while it goes on. 1000 and 5000 unless
 * set; quiet_ms 0 writes every line. */
void fh_log_throttle(unsigned quiet_ms, unsigned report_ms);
/* Writes the counts of repeats that have gone quiet; a daemon calls it from its main loop so
 * that a burst's count does not wait for the next line. Cheap when there are none. */
void fh_log_tick(void);

#include <stddef.h>
#include <stdint.h>

/* From now on, lines go to daily files in dir (made 0700 when missing; today's is opened at
 * once to know it can be written). 0, or -1 with errno (ENOTDIR when dir is a file). */
int fh_log_to_dir(const char *dir);
/* Deletes every dated Funkhaus log file in dir ("*-YYYY-MM-DD.log") whose day ended more than
 * days before now, unless a legal hold covers that day; how many went. */
unsigned fh_log_expire(const char *dir, int64_t now, unsigned days);

/* Legal holds: "FROM TO reason" lines (dates YYYY-MM-DD, UTC) in <dir>/legal-holds. Setting or
 * lifting one appends who, what and when to <dir>/audit.log. 0, or -1 with the reason. */
int fh_log_hold_set(const char *dir, const char *from, const char *to, const char *reason,
		    const char *who, int64_t now, char *err, size_t elen);
int fh_log_hold_lift(const char *dir, const char *from, const char *to, const char *who,
		     int64_t now, char *err, size_t elen);
/* Appends "TIME who what" to <dir>/audit.log (0600). 0, or -1 with the reason. */
int fh_log_audit(const char *dir, const char *who, const char *what, int64_t now, char *err,
		 size_t elen);
/* Whether a hold in dir covers the day (days since the epoch). */
int fh_log_held(const char *dir, int64_t day);

/* in with every control byte (C0, DEL, C1), backslash and byte that is not UTF-8 written as
 * \xNN or \\, into out (n bytes, cut at a whole escape); the length written. fh_log and
 * fh_log_audit pass everything through it. */
size_t fh_log_escape(const char *in, char *out, size_t n);

#define FH_CRIT(...) fh_log(FH_LOG_CRIT, __VA_ARGS__)
#define FH_ERR(...) fh_log(FH_LOG_ERR, __VA_ARGS__)
#define FH_WARN(...) fh_log(FH_LOG_WARN, __VA_ARGS__)
#define FH_INFO(...) fh_log(FH_LOG_INFO, __VA_ARGS__)
#define FH_DEBUG(...) fh_log(FH_LOG_DEBUG, __VA_ARGS__)

#endif
