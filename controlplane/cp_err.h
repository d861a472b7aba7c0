/*
 * cp_err: the one table of numeric error codes the control plane returns to web clients
 * (signalling) and, later, admins. Documented in docs/PROTOCOL.md; codes never change meaning.
 */
#ifndef CP_ERR_H
#define CP_ERR_H

#define CP_FOREACH_ERR(_)                                                                \
	_(OK, 0, "ok")                                                                   \
	_(BAD_JSON, 4000, "message is not valid JSON")                                   \
	_(TOO_LARGE, 4001, "message too large")                                          \
	_(UNKNOWN_TYPE, 4002, "unknown message type")                                    \
	_(MISSING_FIELD, 4003, "a required field is missing")                            \
	_(BAD_FIELD, 4004, "a field has the wrong type or length")                       \
	_(BAD_ROOM, 4005, "not a room name: 1-64 characters with a letter or digit")     \
	_(BAD_NAME, 4006, "display name not allowed: 1-64 printable characters")         \
	_(ALREADY_JOINED, 4007, "this connection already joined a room")                 \
	_(NOT_JOINED, 4008, "join a room first")                                         \
	_(BAD_SDP, 4009, "the SDP offer cannot be used")                                 \
	_(ROOM_FULL, 4010, "the room is full")                                           \
	_(RATE_LIMITED, 4011, "too many messages, slow down")                            \
	_(CHAT_OFF, 4012, "chat is switched off")                                        \
	_(UNKNOWN_TENANT, 4013, "no service is offered at this address")                 \
	_(ACCESS_OFF, 4014, "this service is switched off for now")                      \
	_(LOGIN_REQUIRED, 4015, "only signed-in users can open a room here")             \
	_(TOO_MANY_ROOMS, 4016, "this service has no room left, try later")              \
	_(TOKEN_MALFORMED, 4020, "the sign-in token is malformed")                       \
	_(TOKEN_ALG, 4021, "the sign-in token's algorithm is not accepted")              \
	_(TOKEN_SIGNATURE, 4022, "the sign-in token's signature is invalid")             \
	_(TOKEN_EXPIRED, 4023, "the sign-in token has expired")                          \
	_(TOKEN_NOT_YET, 4024, "the sign-in token is not valid yet")                     \
	_(TOKEN_ISSUER, 4025, "the sign-in token is from another issuer")                \
	_(TOKEN_AUDIENCE, 4026, "the sign-in token is for another audience")             \
	_(TOKEN_TENANT, 4027, "the sign-in token is for another service")                \
	_(TOKEN_ROOM, 4028, "the sign-in token is for another room")                     \
	_(NOT_MODERATOR, 4030, "only a moderator can do that")                           \
	_(NO_SUCH_PARTICIPANT, 4031, "no such participant in this room")                 \
	_(WRONG_PASSWORD, 4032, "wrong password")                                        \
	_(PASSWORD_REQUIRED, 4033, "this room needs a password")                         \
	_(TOO_MANY_ATTEMPTS, 4034, "too many wrong passwords, wait a minute")            \
	_(WAITING, 4035, "wait until a moderator lets you in")                           \
	_(PASSWORD_CHOOSE, 4036, "choose a password for this new room")                  \
	_(NO_PASSWORD_YET, 4037, "this room has no password yet, try later")             \
	_(PASSWORD_POLICY, 4038, "every room of this service needs a password")          \
	_(TOKEN_RIGHTS, 4039, "a sign-in token's moderator rights cannot be revoked")    \
	_(SOURCE_CONNECTIONS, 4040, "too many connections from your address")            \
	_(SOURCE_PARTICIPANTS, 4041, "too many participants from your address")          \
	_(SOURCE_ROOMS, 4042, "too many new rooms from your address, wait a minute")     \
	_(SOURCE_LOBBY, 4043, "too many people from your address wait in this lobby")    \
	_(JOIN_TIMEOUT, 4044, "no join in time, connection closed")                      \
	_(MEDIA_SETUP_TIMEOUT, 4045, "no media connection in time after joining")        \
	_(LOBBY_TIMEOUT, 4046, "waited too long in the lobby, try again")                \
	_(RESUME_FAILED, 4047, "this call cannot be resumed, join again")                \
	_(LAST_MODERATOR, 4048, "the last moderator cannot give up the rights")          \
	_(SCREEN_NOT_ALLOWED, 4050, "only moderators may share their screen here")       \
	_(UNAVAILABLE, 5000, "media server not available, try again shortly")            \
	_(SERVER_FULL, 5001, "no capacity left on this server")                          \
	_(DTLS_FAILED, 5002, "secure media connection failed")                           \
	_(MEDIA_TIMEOUT, 5003, "media connection lost")                                  \
	_(INTERNAL, 5004, "internal error")                                              \
	_(DRAINING, 5005, "this server opens no new rooms now, try again shortly")       \
	_(BUSY, 5006, "the server is busy, try again in a moment")                       \
	_(CLUSTER_DOWN, 5010, "new rooms cannot be opened right now, try again shortly") \
	_(CLUSTER_LOOP, 5011, "the room is moving between servers, try again shortly")

#define CP_ERR_ENUM(n, c, m) CP_ERR_##n = c,
enum cp_err { CP_FOREACH_ERR(CP_ERR_ENUM) };

const char *cp_err_message(enum cp_err e);

#endif
