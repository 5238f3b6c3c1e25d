//! Waldur's LinkHeaderPagination: a bare JSON array, `X-Result-Count`, and a `Link` header.

use super::links::Links;
use crate::domain::page::Page;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use url::form_urlencoded;

/// How a page renders its headers: `X-Result-Count` and the `Link` relations.
trait PageHeaders {
    fn headers(&self, links: &Links, uri: &Uri) -> HeaderMap;
}

impl PageHeaders for Page {
    fn headers(&self, links: &Links, uri: &Uri) -> HeaderMap {
        let url = PageUrl::of(links, uri);
        let mut parts = vec![format!("<{}>; rel=\"first\"", url.with_page(None))];
        if self.number > 1 {
            let prev = (self.number > 2).then_some(self.number - 1);
            parts.push(format!("<{}>; rel=\"prev\"", url.with_page(prev)));
        }
        if self.number < self.pages {
            parts.push(format!("<{}>; rel=\"next\"", url.with_page(Some(self.number + 1))));
        }
        let last = (self.pages > 1).then_some(self.pages);
        parts.push(format!("<{}>; rel=\"last\"", url.with_page(last)));

        let mut headers = HeaderMap::new();
        headers.insert("x-result-count", HeaderValue::from(self.total));
        if let Ok(v) = HeaderValue::from_str(&parts.join(", ")) {
            headers.insert("link", v);
        }
        headers
    }
}

/// This request's absolute URL split once into its path and its other parameters than `page`,
/// which each link then sets anew. As DRF's `replace_query_param`, the parameters come sorted by
/// name (a repeated one keeps its values' order), `page` among them.
struct PageUrl {
    path: String,
    /// The encoded parameters that sort before `page`, and after it.
    before: String,
    after: String,
}

impl PageUrl {
    fn of(links: &Links, uri: &Uri) -> Self {
        let mut kept: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, _)| k != "page")
            .collect();
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        let split = kept.partition_point(|(k, _)| k.as_str() < "page");
        let encode = |pairs: &[(String, String)]| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        };
        Self {
            path: format!("{}{}", links.base(), uri.path()),
            before: encode(&kept[..split]),
            after: encode(&kept[split..]),
        }
    }

    /// The URL with `page` set, or without it for `None`.
    fn with_page(&self, page: Option<i64>) -> String {
        let page = page.map(|n| format!("page={n}"));
        let parts: Vec<&str> = [Some(self.before.as_str()), page.as_deref(), Some(self.after.as_str())]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect();
        if parts.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, parts.join("&"))
        }
    }
}

/// A page of items with its headers.
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub page: Page,
    pub links: Links,
    pub uri: Uri,
}

impl<T: Serialize> IntoResponse for Paginated<T> {
    fn into_response(self) -> Response {
        let headers = self.page.headers(&self.links, &self.uri);
        (headers, Json(self.items)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::PageRequest;
    use std::collections::HashMap;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(PageRequest::from_query(&query(&[])).unwrap().size, 10);
        assert_eq!(
            PageRequest::from_query(&query(&[("page_size", "1000")])).unwrap().size,
            300
        );
        assert_eq!(
            PageRequest::from_query(&query(&[("page_size", "-3")])).unwrap().size,
            10
        );
        assert_eq!(PageRequest::from_query(&query(&[("page_size", "x")])).unwrap().size, 10);
    }

    #[test]
    fn pages_past_the_end_are_invalid_but_an_empty_first_page_is_not() {
        let req = PageRequest::from_query(&query(&[("page", "3")])).unwrap();
        assert!(req.resolve(20).is_err());
        assert!(req.resolve(21).is_ok());
        assert!(req.resolve(0).is_err());
        assert!(PageRequest::from_query(&query(&[("page", "0")])).is_err());
        assert!(PageRequest::from_query(&query(&[("page", "abc")])).is_err());
        let first = PageRequest::from_query(&query(&[])).unwrap();
        assert_eq!(first.resolve(0).unwrap().pages, 1);
    }

    #[test]
    fn link_header_lists_existing_neighbours() {
        let links = Links::new("http://h");
        let uri: Uri = "/api/x/?page=2&page_size=10&customer_uuid=a".parse().unwrap();
        let page = PageRequest::from_query(&query(&[("page", "2"), ("page_size", "10")]))
            .unwrap()
            .resolve(35)
            .unwrap();
        let link = page.headers(&links, &uri)["link"].to_str().unwrap().to_string();
        assert_eq!(
            link,
            "<http://h/api/x/?customer_uuid=a&page_size=10>; rel=\"first\", \
             <http://h/api/x/?customer_uuid=a&page_size=10>; rel=\"prev\", \
             <http://h/api/x/?customer_uuid=a&page=3&page_size=10>; rel=\"next\", \
             <http://h/api/x/?customer_uuid=a&page=4&page_size=10>; rel=\"last\""
        );
    }

    #[test]
    fn links_sort_parameters_by_name_keeping_a_repeated_ones_order() {
        let links = Links::new("http://h");
        let uri: Uri = "/api/x/?state=b&o=1&state=a".parse().unwrap();
        let page = PageRequest::from_query(&query(&[])).unwrap().resolve(11).unwrap();
        let link = page.headers(&links, &uri)["link"].to_str().unwrap().to_string();
        assert!(
            link.contains("<http://h/api/x/?o=1&page=2&state=b&state=a>; rel=\"next\""),
            "{link}"
        );
    }

    #[test]
    fn links_keep_other_parameters_form_encoded_and_drop_page() {
        let links = Links::new("http://h");
        let uri: Uri = "/api/x/?customer=http%3A%2F%2Fh%2Fapi%2Fc%2F&page=1&name=a+b"
            .parse()
            .unwrap();
        let page = PageRequest::from_query(&query(&[])).unwrap().resolve(11).unwrap();
        let link = page.headers(&links, &uri)["link"].to_str().unwrap().to_string();
        assert_eq!(
            link,
            "<http://h/api/x/?customer=http%3A%2F%2Fh%2Fapi%2Fc%2F&name=a+b>; rel=\"first\", \
             <http://h/api/x/?customer=http%3A%2F%2Fh%2Fapi%2Fc%2F&name=a+b&page=2>; rel=\"next\", \
             <http://h/api/x/?customer=http%3A%2F%2Fh%2Fapi%2Fc%2F&name=a+b&page=2>; rel=\"last\""
        );
    }
}
