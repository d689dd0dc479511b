// Starts Swagger UI on /api/docs. It lives in a file, not in the page, because the
// Content-Security-Policy lets no inline script run.
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("swagger-ui");
    window.ui = SwaggerUIBundle({
      url: box.dataset.openapiUrl,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",  // no top bar: its logo is an inline <style>, which the CSP refuses
      presets: [SwaggerUIBundle.presets.apis],
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null,  // no badge fetched from validator.swagger.io
    });
  });
})();
