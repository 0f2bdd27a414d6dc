/*
 * tls.h - the listener's certificate and key ([server] tls_cert, tls_key), for listen entries
 * written tls:HOST:PORT.
 *
 * GnuTLS asks for the pair at every handshake (tls_retrieve, libmicrohttpd's certificate
 * callback), so SIGHUP swaps in a renewed pair without a restart: certbot or any ACME client
 * replaces the files and reloads. A pair is checked before it is used (the key's permissions,
 * certificate and key belonging together); one that fails leaves the pair in use as it is.
 * Threads: tls_load from one thread at a time (start, SIGHUP); tls_retrieve from any.
 */
#ifndef HOOKD_TLS_H
#define HOOKD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* TLS 1.2 and 1.3 only, GnuTLS's secure suites, the server's preference first. */
#define TLS_PRIORITIES "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-SHA1:%SERVER_PRECEDENCE"

/* Read, check and make current the pair; false with the reason (never the key) in err. */
bool tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Check a key file's permissions only (check-config): false when others may read it. */
bool tls_key_private(const char *key_path, char *err, size_t errlen);

/* gnutls_certificate_retrieve_function2: the current pair. */
int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);

/* Free every pair loaded (at exit, once no listener runs). */
void tls_free_all(void);

#endif
