/*
 * tls.c - the listener's certificate and key, current and swappable (see tls.h).
 *
 * A replaced pair is retired, not freed: a handshake that began with it may still be using it,
 * and GnuTLS takes no reference. Renewals come every few weeks, so the retired list stays tiny;
 * it is freed at exit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tls.h"

#define TLS_MAX_CHAIN 8

typedef struct tls_pair {
    gnutls_pcert_st pcerts[TLS_MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    struct tls_pair *retired;
} tls_pair;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tls_pair *current;

static void pair_free(tls_pair *p)
{
    for (unsigned i = 0; i < p->n; i++)
        gnutls_pcert_deinit(&p->pcerts[i]);
    if (p->key != NULL)
        gnutls_privkey_deinit(p->key);
    free(p);
}

bool tls_key_private(const char *key_path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(key_path, &st) != 0) {
        snprintf(err, errlen, "tls_key %s: %s", key_path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "tls_key %s: not a regular file", key_path);
        return false;
    }
    if (st.st_mode & 0007) {
        snprintf(err, errlen, "tls_key %s: readable by others (mode %03o): chmod 600 (or 640 for a "
                              "group such as ssl-cert)", key_path, (unsigned)(st.st_mode & 0777));
        return false;
    }
    return true;
}

bool tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    if (!tls_key_private(key_path, err, errlen))
        return false;
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    int rc = gnutls_load_file(cert_path, &cert);
    if (rc < 0) {
        snprintf(err, errlen, "tls_cert %s: cannot read it (%s)", cert_path, gnutls_strerror(rc));
        return false;
    }
    rc = gnutls_load_file(key_path, &key);
    if (rc < 0) {
        snprintf(err, errlen, "tls_key %s: cannot read it (%s)", key_path, gnutls_strerror(rc));
        gnutls_free(cert.data);
        return false;
    }
    /* GnuTLS's own check that the two belong together, on a throwaway credentials object. */
    gnutls_certificate_credentials_t creds = NULL;
    rc = gnutls_certificate_allocate_credentials(&creds);
    if (rc >= 0)
        rc = gnutls_certificate_set_x509_key_mem2(creds, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(creds);
    tls_pair *p = rc >= 0 ? calloc(1, sizeof *p) : NULL;
    if (rc < 0) {
        snprintf(err, errlen, "tls_cert %s and tls_key %s: %s", cert_path, key_path,
                 rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? "the key does not belong to the certificate"
                                                         : gnutls_strerror(rc));
    } else if (p == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        p->n = TLS_MAX_CHAIN;
        rc = gnutls_pcert_list_import_x509_raw(p->pcerts, &p->n, &cert, GNUTLS_X509_FMT_PEM, 0);
        if (rc < 0)
            p->n = 0;
        if (rc >= 0)
            rc = gnutls_privkey_init(&p->key);
        if (rc >= 0)
            rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (rc < 0) {
            snprintf(err, errlen, "tls_cert %s / tls_key %s: %s (at most %d certificates in the chain)",
                     cert_path, key_path, gnutls_strerror(rc), TLS_MAX_CHAIN);
            pair_free(p);
            p = NULL;
        }
    }
    gnutls_memset(key.data, 0, key.size);
    gnutls_free(key.data);
    gnutls_free(cert.data);
    if (p == NULL)
        return false;
    pthread_mutex_lock(&lock);
    p->retired = current;
    current = p;
    pthread_mutex_unlock(&lock);
    return true;
}

int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    pthread_mutex_lock(&lock);
    tls_pair *p = current;
    pthread_mutex_unlock(&lock);
    if (p == NULL)
        return -1;
    *pcert = p->pcerts;
    *pcert_length = p->n;
    *pkey = p->key;
    return 0;
}

void tls_free_all(void)
{
    pthread_mutex_lock(&lock);
    tls_pair *p = current;
    current = NULL;
    pthread_mutex_unlock(&lock);
    while (p != NULL) {
        tls_pair *next = p->retired;
        pair_free(p);
        p = next;
    }
}
