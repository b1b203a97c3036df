// SPDX-License-Identifier: MIT
#include "k8s/kubelet.h"

#include "core/file.h"
#include "core/log.h"
#include "core/util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MAX 65536

struct kubelet_client {
	char *url_base; /* no trailing '/' */
	char *token_file;
	char *ca_file;
	bool insecure;
	bool allow_http_token;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body;
	CURL *curl; /* reused: keeps the TLS session and connection */
	_Atomic bool aborted; /* kubelet_client_abort() */
	char err[CURL_ERROR_SIZE + 128];
};

struct body {
	char *p;
	size_t n, cap, max;
	bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *kubelet_default_url(const char *url, const char *node_ip,
				char *buf, size_t bufsz)
{
	if (url && *url)
		return url;
	if (!node_ip || !*node_ip)
		return NULL;
	snprintf(buf, bufsz, strchr(node_ip, ':') ? "https://[%s]:10250" :
						    "https://%s:10250",
		 node_ip);
	return buf;
}

int kubelet_client_new(const struct kubelet_options *o,
		       struct kubelet_client **ret)
{
	if (!o->url || !*o->url)
		return -EINVAL;
	pthread_once(&curl_once, curl_init_once);
	struct kubelet_client *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	size_t n = strlen(o->url);
	while (n && o->url[n - 1] == '/')
		n--;
	k->url_base = strndup(o->url, n);
	k->token_file = o->token_file ? strdup(o->token_file) : NULL;
	k->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	k->curl = curl_easy_init();
	if (!k->url_base || !k->curl || (o->token_file && !k->token_file) ||
	    (o->ca_file && !k->ca_file)) {
		kubelet_client_free(k);
		return -ENOMEM;
	}
	k->insecure = o->insecure;
	k->allow_http_token = o->allow_http_token;
	k->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms :
							2000;
	k->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	k->max_body = o->max_body ? o->max_body : 64u << 20;
	*ret = k;
	return 0;
}

void kubelet_client_free(struct kubelet_client *k)
{
	if (!k)
		return;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	free(k->url_base);
	free(k->token_file);
	free(k->ca_file);
	free(k);
}

void kubelet_client_abort(struct kubelet_client *k)
{
	if (k)
		k->aborted = true;
}

/* curl calls it at least once a second, also while it waits. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	const struct kubelet_client *k = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return k->aborted ? 1 : 0;
}

const char *kubelet_last_error(const struct kubelet_client *k)
{
	return k->err;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	if (b->n + n + 1 > b->max) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, ptr, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* Reads the token (projected tokens rotate: read per request). Returns 0
 * and a malloc'd trimmed token, -errno. */
static int read_token(const char *path, char **ret)
{
	_cleanup_(freep) char *buf = NULL;
	size_t len;
	int r = file_read_alloc(path, TOKEN_MAX - 1, &buf, &len);
	if (r < 0)
		return r;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	/* A header must not be split by the token's content. */
	if (strpbrk(buf, "\r\n"))
		return -EINVAL;
	*ret = TAKE_PTR(buf);
	return 0;
}

const char *kubelet_apiserver_url(const char *url, const char *host,
				  const char *port, char *buf, size_t bufsz)
{
	if (url && *url)
		return url;
	if (!host || !*host)
		return NULL;
	snprintf(buf, bufsz, strchr(host, ':') ? "https://[%s]:%s" :
						 "https://%s:%s",
		 host, port && *port ? port : "443");
	return buf;
}

/* GET <base><path>; rbac names what a 401/403 needs. */
static int kubelet_get(struct kubelet_client *k, const char *path,
		       const char *rbac, char **ret_body, size_t *ret_len);

int kubelet_list_pods(struct kubelet_client *k, char **ret_body,
		      size_t *ret_len)
{
	return kubelet_get(k, "/pods", "nodes/proxy or nodes/pods get",
			   ret_body, ret_len);
}

int kubelet_list_services(struct kubelet_client *k, char **ret_body,
			  size_t *ret_len)
{
	return kubelet_get(k, "/api/v1/services", "services list", ret_body,
			   ret_len);
}

/* The request's headers, with the token when one is configured. 0 with
 * *ret (curl_slist_free_all() it), or -errno with k->err set. */
static int request_headers(struct kubelet_client *k, const char *url,
			   struct curl_slist **ret)
{
	_cleanup_(freep) char *token = NULL;
	_cleanup_(freep) char *auth = NULL;
	if (k->token_file) {
		int r = read_token(k->token_file, &token);
		if (r < 0 && r != -ENOENT) {
			snprintf(k->err, sizeof(k->err),
				 "cannot read token file %s: %s",
				 k->token_file, strerror(-r));
			return r == -ENOMEM ? r : -EACCES;
		}
		/* Never in clear unless told so (the agent refuses that
		 * configuration at start-up already). */
		if (token && *token && !k->allow_http_token &&
		    strncasecmp(url, "http://", 7) == 0) {
			snprintf(k->err, sizeof(k->err),
				 "%s: refusing to send the token over http://",
				 url);
			return -EACCES;
		}
		/* No token file: anonymous (a kubelet may allow it). */
		if (token && *token &&
		    asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
			auth = NULL;
			return -ENOMEM;
		}
	}
	struct curl_slist *hdrs =
		curl_slist_append(NULL, "Accept: application/json");
	if (hdrs && auth) {
		struct curl_slist *h2 = curl_slist_append(hdrs, auth);
		if (!h2) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
		} else {
			hdrs = h2;
		}
	}
	if (!hdrs)
		return -ENOMEM;
	*ret = hdrs;
	return 0;
}

static void request_setup(struct kubelet_client *k, const char *url,
			  struct curl_slist *hdrs, struct body *b,
			  char *curl_err)
{
	CURL *c = k->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, k->timeout_ms);
	/* Timeouts without signals: we run in a thread. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (k->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (k->ca_file && *k->ca_file) {
		/* Missing, it fails the request: no silent fallback to the
		 * system store. */
		curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
	}
}

/* A failed transfer or an HTTP status other than 200 as -errno with
 * k->err set; 0 for a 200. */
static int request_outcome(struct kubelet_client *k, const char *url,
			   CURLcode cc, long status, const struct body *b,
			   const char *curl_err, const char *rbac)
{
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(k->err, sizeof(k->err), "%s: stopped", url);
		return -ECANCELED;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(k->err, sizeof(k->err), "%s: timed out (%s)", url,
			 curl_err);
		return -ETIMEDOUT;
	}
	if (b->too_big) {
		snprintf(k->err, sizeof(k->err),
			 "%s: answer larger than %zu bytes", url, k->max_body);
		return -EFBIG;
	}
	if (cc != CURLE_OK) {
		snprintf(k->err, sizeof(k->err), "%s: %s", url,
			 *curl_err ? curl_err : curl_easy_strerror(cc));
		return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	if (status == 401 || status == 403) {
		snprintf(k->err, sizeof(k->err),
			 "%s: HTTP %ld (check the token and its RBAC: %s)", url,
			 status, rbac);
		return -EACCES;
	}
	if (status != 200) {
		snprintf(k->err, sizeof(k->err), "%s: HTTP %ld", url, status);
		return -EIO;
	}
	return 0;
}

static int kubelet_get(struct kubelet_client *k, const char *path,
		       const char *rbac, char **ret_body, size_t *ret_len)
{
	_cleanup_(freep) char *url = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	struct body b = { .max = k->max_body };
	struct curl_slist *hdrs = NULL;
	int r;

	k->err[0] = '\0';
	if (asprintf(&url, "%s%s", k->url_base, path) < 0) {
		url = NULL;
		return -ENOMEM;
	}
	if (k->aborted) {
		snprintf(k->err, sizeof(k->err), "%s: stopped", url);
		return -ECANCELED;
	}
	if ((r = request_headers(k, url, &hdrs)) < 0)
		return r;
	request_setup(k, url, hdrs, &b, curl_err);
	CURLcode cc = curl_easy_perform(k->curl);
	long status = 0;
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);

	r = request_outcome(k, url, cc, status, &b, curl_err, rbac);
	if (r == 0 && !b.p && !(b.p = calloc(1, 1)))
		r = -ENOMEM;
	if (r < 0) {
		free(b.p);
		return r;
	}
	log_debug("k8s: GET %s: %zu bytes", url, b.n);
	*ret_body = b.p;
	*ret_len = b.n;
	return 0;
}
