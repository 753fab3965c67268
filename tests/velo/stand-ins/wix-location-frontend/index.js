// Stand-in for 'wix-location-frontend': to(url) records where the page sent the visitor.
import { record } from '../wix-web-module/state.js';

export default {
  to(url) {
    record('navigations', url);
  },
};
