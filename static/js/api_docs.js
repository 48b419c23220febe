// The API documentation page: Swagger UI over the documents the page lists (templates/api/docs.html).
"use strict";

(function () {
  const documents = JSON.parse(document.getElementById("api-documents").textContent);
  window.SwaggerUIBundle({
    urls: documents,
    dom_id: "#swagger-ui",
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    // Requests tried from the page carry the visitor's session (the read API accepts it) and never leave the site.
    withCredentials: true,
    deepLinking: true,
  });
})();
