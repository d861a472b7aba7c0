/* libFuzzer target: the admin API's routing and body handling on untrusted requests, with a
 * valid node admin's token (what an attacker with a stolen token, or a buggy script, sends)
 * and with garbage tokens. Input: method byte, a URI line, an Authorization line, the body.
 * Nothing may crash; every answer must be a status the API uses, with a JSON body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cp_api.h"

static const char token[] = "fuzz-token-0123456789";

static int no_reload(char *err, size_t elen)
{
	(void)err, (void)elen;
	__builtin_trap(); /* tenants_dir is empty: nothing may ever be written or reloaded */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cp_api_conf c = {.n_tokens = 1, .reload = no_reload, .instance = "fuzz"};
	unsigned n = 0;

	(void)argc, (void)argv;
	strcpy(c.tokens[0].name, "fuzz");
	strcpy(c.tokens[0].scope, "*");
	EVP_Digest(token, strlen(token), c.tokens[0].hash, &n, EVP_sha256(), NULL);
	cp_api_init(&c);
	return 0;
}

/* The next '\n'-terminated piece of data, as a string in out. */
static size_t line(const uint8_t *d, size_t n, char *out, size_t cap)
{
	size_t i = 0;

	while (i < n && d[i] != '\n' && i + 1 < cap) {
		out[i] = (char)d[i];
		i++;
	}
	out[i] = '\0';
	return i < n ? i + 1 : i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char uri[300] = "/api/v1/", auth[300];
	struct cp_api_resp r;
	size_t off;

	if (size < 2)
		return 0;
	enum cp_http_method m = (enum cp_http_method)(data[0] % 5);
	bool good = data[1] & 1;

	off = 2 + line(data + 2, size - 2, uri + 8, sizeof(uri) - 8);
	if (data[1] & 2) /* sometimes the whole URI from the input */
		memmove(uri, uri + 8, strlen(uri + 8) + 1);
	off += line(data + off, size - off, auth, sizeof(auth));
	if (good)
		snprintf(auth, sizeof(auth), "Bearer %s", token);
	cp_api_handle(m, uri, auth, (const char *)data + off, size - off, false, &r);
	if (r.status < 200 || r.status > 599)
		__builtin_trap();
	json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;

	if (strcmp(uri, "/metrics") && !j)
		__builtin_trap();
	json_decref(j);
	free(r.body);
	return 0;
}
