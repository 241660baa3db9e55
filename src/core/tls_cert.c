#include "hl/tls_cert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hl/fsutil.h"
#include "hl/ids.h"

#define VALID_DAYS (10 * 365)

static char *bio_text(BIO *bio)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    return hl_strndup(data, (size_t)len);
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return 0;
}

static int generate(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    int ret = -EIO;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = X509_new();
    BIO *kbio = BIO_new(BIO_s_mem()), *cbio = BIO_new(BIO_s_mem());
    char *ktext = NULL, *ctext = NULL;
    if (key == NULL || cert == NULL)
        goto Exit;
    unsigned char serial[16];
    hl_random_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_set_version(cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), (long)VALID_DAYS * 86400);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Hermes Link", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"hermeslink", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0 ||
        add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") != 0 || add_ext(cert, NID_ext_key_usage, "serverAuth") != 0 ||
        X509_sign(cert, key, EVP_sha256()) == 0)
        goto Exit;
    if (!PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cbio, cert))
        goto Exit;
    ktext = bio_text(kbio);
    ctext = bio_text(cbio);
    /* the certificate is public (the QR carries its fingerprint) but, like everything in the home, owner-only */
    if ((ret = hl_write_file_atomic(key_path, ktext, strlen(ktext), 0600)) != 0 ||
        (ret = hl_write_file_atomic(cert_path, ctext, strlen(ctext), 0600)) != 0)
        goto Exit;
    ret = 0;
Exit:
    if (ret != 0)
        snprintf(err, errlen, "cannot create the TLS certificate");
    OPENSSL_cleanse(ktext, ktext != NULL ? strlen(ktext) : 0);
    free(ktext);
    free(ctext);
    BIO_free(kbio);
    BIO_free(cbio);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ret;
}

static int fingerprint(const char *cert_path, char out[65])
{
    FILE *fp = fopen(cert_path, "r");
    if (fp == NULL)
        return -errno;
    X509 *cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (cert == NULL)
        return -EINVAL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = X509_digest(cert, EVP_sha256(), md, &len);
    X509_free(cert);
    if (!ok)
        return -EINVAL;
    hl_hex(md, len, out);
    return 0;
}

int hl_tls_cert_ensure(const char *home, hl_tls_cert_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char *dir = hl_path_join(home, "tls");
    int ret = hl_mkdir_p(dir, 0700);
    out->cert_path = hl_path_join(dir, "cert.pem");
    out->key_path = hl_path_join(dir, "key.pem");
    free(dir);
    if (ret != 0) {
        snprintf(err, errlen, "cannot create the tls directory");
        goto Error;
    }
    if (access(out->cert_path, R_OK) != 0 || access(out->key_path, R_OK) != 0) {
        if ((ret = generate(out->cert_path, out->key_path, err, errlen)) != 0)
            goto Error;
    }
    if ((ret = fingerprint(out->cert_path, out->fingerprint)) != 0) {
        snprintf(err, errlen, "tls/cert.pem is not a readable PEM certificate");
        goto Error;
    }
    return 0;
Error:
    hl_tls_cert_dispose(out);
    return ret;
}

void hl_tls_cert_dispose(hl_tls_cert_t *c)
{
    free(c->cert_path);
    free(c->key_path);
    c->cert_path = c->key_path = NULL;
}
