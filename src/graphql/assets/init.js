// GraphiQL on /graphql, from the assets the binary serves (no CDN). Headers
// (the bearer token) are never persisted: GraphiQL keeps them in memory.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    shouldPersistHeaders: false,
    defaultHeaders: '{"Authorization": "Bearer <paste a token>"}',
  }));
})();
