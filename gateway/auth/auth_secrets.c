/* The auth module's secrets: argon2id password hashes (libsodium
 * crypto_pwhash_str), session and setup tokens (256 random bits, base64url),
 * their BLAKE2b hashes (all the database ever holds of a token), and the
 * CSRF token derived from a session token. */
#include <string.h>

#include "auth/auth_internal.h"

_Static_assert(KEY_LEN == 32, "token hashes are 32 bytes (migration 4 checks it)");

void auth_token_key(const char *token, uint8_t key[KEY_LEN])
{
    crypto_generichash(key, KEY_LEN, (const unsigned char *)token, strlen(token), NULL, 0);
}

/* BLAKE2b keyed with the session token, so it is never stored and cannot be
 * made from what the database holds. */
void auth_csrf_of(const char *token, char csrf[WG_AUTH_CSRF_LEN + 1])
{
    static const char context[] = "wardgate csrf v1";
    uint8_t mac[32];
    crypto_generichash(mac, sizeof mac, (const unsigned char *)context, sizeof context - 1,
                       (const unsigned char *)token, strlen(token));
    sodium_bin2base64(csrf, WG_AUTH_CSRF_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(mac, sizeof mac);
}

void auth_new_token(char token[WG_AUTH_TOKEN_LEN + 1])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, WG_AUTH_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

bool auth_token_shape_ok(const char *token)
{
    return token && strlen(token) == WG_AUTH_TOKEN_LEN;
}

int auth_hash_password(const struct hash_cost *cost, const char *password,
                       char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str_alg(out, password, strlen(password), cost->opslimit, cost->memlimit,
                                 crypto_pwhash_ALG_ARGON2ID13);
}

bool auth_needs_rehash(const char *stored, const struct hash_cost *cost)
{
    return strncmp(stored, "$argon2id$", 10) != 0 ||
           crypto_pwhash_str_needs_rehash(stored, cost->opslimit, cost->memlimit) != 0;
}

struct hash_cost auth_cost_locked(const struct wg_auth *auth)
{
    return (struct hash_cost){auth->opslimit, auth->memlimit};
}
